/**
 * The child processes (reference servers, load generator) run as plain JavaScript, so none of
 * them carries a TypeScript compiler in its heap (that would distort RSS and CPU). This
 * transpiles bench/**\/*.ts to dist/bench/ (gitignored), next to the app's own dist/src/, so the
 * children's imports of ../src/... resolve to the built app modules.
 */
import { mkdirSync, readdirSync, statSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import ts from 'typescript';

function sources(dir: string): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (entry === 'results' || entry === 'node_modules') continue;
    if (statSync(path).isDirectory()) files.push(...sources(path));
    else if (entry.endsWith('.ts') && !entry.endsWith('.d.ts')) files.push(path);
  }
  return files;
}

/** Transpiles every bench source; returns the output folder (dist/bench). */
export function compileBench(root: string): string {
  const benchDir = join(root, 'bench');
  const outDir = join(root, 'dist', 'bench');
  for (const file of sources(benchDir)) {
    const output = ts.transpileModule(readFileSync(file, 'utf8'), {
      fileName: file,
      compilerOptions: {
        module: ts.ModuleKind.CommonJS,
        target: ts.ScriptTarget.ES2022,
        esModuleInterop: true,
        sourceMap: false,
      },
    });
    const target = join(outDir, relative(benchDir, file)).replace(/\.ts$/, '.js');
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, output.outputText);
  }
  return outDir;
}
