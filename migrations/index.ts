import { Foundation1764460000000 } from './1764460000000-foundation';
import { Messaging1764460100000 } from './1764460100000-messaging';

/** Every migration, in order. `npm run migration:generate` writes a new file: add its class here. */
export const MIGRATIONS = [Foundation1764460000000, Messaging1764460100000];
