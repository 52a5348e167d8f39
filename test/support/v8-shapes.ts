import { setFlagsFromString } from 'node:v8';

// V8's own answer to "is this object a hash table?" (dictionary mode), for assertions about
// memory layout only; the flag affects code compiled after it is set, such as the function below.
setFlagsFromString('--allow-natives-syntax');

// eslint-disable-next-line @typescript-eslint/no-implied-eval
export const hasFastProperties = new Function('o', 'return %HasFastProperties(o)') as (
  o: unknown,
) => boolean;
