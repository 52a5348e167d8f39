import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The V8 flags `npm start` gives the server: package.json `config.nodeFlags`. */
export function serverNodeFlags(root: string): string[] {
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    config?: { nodeFlags?: string };
  };
  return (manifest.config?.nodeFlags ?? '').split(' ').filter(Boolean);
}
