/**
 * Replays a Dockerfile's build without a Docker engine (used by scripts/check-docker.sh).
 *
 *   ts-node --transpile-only scripts/dockerfile-replay.ts <Dockerfile> <out-dir>
 *
 * Every stage gets a root folder `<out-dir>/<stage>`; an absolute path `/x` of the image is
 * `<out-dir>/<stage>/x`. FROM, WORKDIR, ENV, ARG (defaults only), COPY (from the build context with
 * .dockerignore applied, or `--from=<stage>`) and RUN (`sh -c` in the mapped WORKDIR, with the
 * stage's ENV; `--mount` cache flags dropped) are executed in order. The base image's own files are
 * not there: RUN commands must work on this machine's tools (node, npm) and stay inside WORKDIR.
 * USER, EXPOSE, STOPSIGNAL, HEALTHCHECK, CMD, ENTRYPOINT and LABEL are recorded, not executed.
 *
 * Prints a JSON summary of the final stage (its mapped WORKDIR, ENV, USER, EXPOSE, STOPSIGNAL,
 * HEALTHCHECK and CMD) on stdout; progress goes to stderr.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join, posix, relative, resolve } from 'node:path';

export interface Instruction {
  keyword: string;
  args: string;
  line: number;
}

export interface HealthcheckSpec {
  options: Record<string, string>;
  /** Exec form (JSON array) or `['/bin/sh', '-c', <shell form>]`. */
  command: string[];
}

export interface StageSummary {
  name: string;
  base: string;
  root: string;
  workdir: string;
  hostWorkdir: string;
  env: Record<string, string>;
  user: string | undefined;
  expose: string[];
  stopSignal: string | undefined;
  healthcheck: HealthcheckSpec | undefined;
  cmd: string[] | undefined;
  entrypoint: string[] | undefined;
}

/** Splits a Dockerfile into instructions: comments dropped, `\` continuations joined. */
export function parseDockerfile(text: string): Instruction[] {
  const instructions: Instruction[] = [];
  let buffer = '';
  let startLine = 0;
  text.split(/\r?\n/).forEach((raw, index) => {
    const trimmed = raw.trim();
    if (buffer === '' && (trimmed === '' || trimmed.startsWith('#'))) return;
    if (buffer !== '' && trimmed.startsWith('#')) return; // comment inside a continuation
    if (buffer === '') startLine = index + 1;
    if (trimmed.endsWith('\\')) {
      buffer += trimmed.slice(0, -1) + ' ';
      return;
    }
    buffer += trimmed;
    const match = /^(\S+)\s*(.*)$/s.exec(buffer);
    if (match)
      instructions.push({ keyword: match[1].toUpperCase(), args: match[2], line: startLine });
    buffer = '';
  });
  if (buffer !== '')
    throw new Error(`Dockerfile ends inside a line continuation (line ${startLine})`);
  return instructions;
}

/** `--flag=value` options at the start of an instruction's arguments. */
export function takeFlags(args: string): { flags: Record<string, string>; rest: string } {
  const flags: Record<string, string> = {};
  let rest = args.trim();
  const flag = /^--([a-z-]+)(?:=(\S*))?\s+/;
  let match = flag.exec(rest);
  while (match) {
    flags[match[1]] = match[2] ?? 'true';
    rest = rest.slice(match[0].length);
    match = flag.exec(rest);
  }
  return { flags, rest };
}

function execForm(args: string, where: string): string[] {
  const trimmed = args.trim();
  if (!trimmed.startsWith('[')) return ['/bin/sh', '-c', trimmed];
  const parsed: unknown = JSON.parse(trimmed);
  if (!Array.isArray(parsed) || !parsed.every((part) => typeof part === 'string')) {
    throw new Error(`${where}: exec form must be a JSON array of strings`);
  }
  return parsed;
}

/** `KEY=value KEY2="v 2"` (or the legacy `KEY value`). */
export function parseKeyValues(args: string): Record<string, string> {
  const result: Record<string, string> = {};
  const trimmed = args.trim();
  if (!/^[A-Za-z_][A-Za-z0-9_]*=/.test(trimmed)) {
    const [key, ...value] = trimmed.split(/\s+/);
    result[key] = value.join(' ');
    return result;
  }
  const pair = /([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|'[^']*'|\S*)/g;
  for (const match of trimmed.matchAll(pair)) {
    const raw = match[2];
    result[match[1]] =
      raw.startsWith('"') || raw.startsWith("'") ? raw.slice(1, -1).replace(/\\(.)/g, '$1') : raw;
  }
  return result;
}

function substitute(value: string, vars: Record<string, string>): string {
  return value.replace(
    /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (
      _whole,
      braced: string | undefined,
      fallback: string | undefined,
      bare: string | undefined,
    ) => {
      const name = braced ?? bare ?? '';
      return vars[name] ?? fallback ?? '';
    },
  );
}

/** A .dockerignore matcher: last matching pattern wins, `!` re-includes, a match covers subpaths. */
export function dockerignoreMatcher(text: string): (relPath: string) => boolean {
  const rules = text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const negate = line.startsWith('!');
      const pattern = posix.normalize((negate ? line.slice(1) : line).trim()).replace(/^\/+/, '');
      const source = pattern
        .split('**')
        .map((part) =>
          part
            .replace(/[.+^${}()|[\]\\]/g, '\\$&')
            .replace(/\*/g, '[^/]*')
            .replace(/\?/g, '[^/]'),
        )
        .join('.*');
      return { negate, regex: new RegExp(`^${source}(/.*)?$`) };
    });
  return (relPath: string) => {
    let excluded = false;
    for (const rule of rules) if (rule.regex.test(relPath)) excluded = !rule.negate;
    return excluded;
  };
}

function copyTree(from: string, to: string, filter: (source: string) => boolean): void {
  mkdirSync(dirname(to), { recursive: true });
  cpSync(from, to, { recursive: true, filter, verbatimSymlinks: true });
}

export function replay(dockerfile: string, outDir: string): StageSummary {
  const context = dirname(resolve(dockerfile));
  const ignorePath = join(context, '.dockerignore');
  const ignored = existsSync(ignorePath)
    ? dockerignoreMatcher(readFileSync(ignorePath, 'utf8'))
    : () => false;
  const inContext = (source: string): boolean => {
    const rel = relative(context, source).split('\\').join('/');
    return rel === '' || !ignored(rel);
  };

  const stages = new Map<string, StageSummary>();
  const globalArgs: Record<string, string> = {};
  let stage: StageSummary | undefined;
  const log = (message: string): void => void process.stderr.write(`replay: ${message}\n`);
  const host = (current: StageSummary, imagePath: string): string =>
    join(current.root, posix.resolve(current.workdir, imagePath));

  for (const { keyword, args, line } of parseDockerfile(readFileSync(dockerfile, 'utf8'))) {
    const where = `${basename(dockerfile)}:${line} ${keyword}`;
    if (keyword === 'ARG' && !stage) {
      Object.assign(globalArgs, parseKeyValues(args));
      continue;
    }
    if (keyword === 'FROM') {
      const { rest } = takeFlags(args);
      const [base, as, name] = rest.split(/\s+/);
      const stageName = as?.toUpperCase() === 'AS' && name ? name : `stage${stages.size}`;
      stage = {
        name: stageName,
        base: substitute(base, globalArgs),
        root: join(outDir, stageName),
        workdir: '/',
        hostWorkdir: join(outDir, stageName),
        env: {},
        user: undefined,
        expose: [],
        stopSignal: undefined,
        healthcheck: undefined,
        cmd: undefined,
        entrypoint: undefined,
      };
      mkdirSync(stage.root, { recursive: true });
      stages.set(stageName, stage);
      log(`${where} ${stage.base} -> ${stage.root}`);
      continue;
    }
    if (!stage) throw new Error(`${where}: instruction before FROM`);
    const vars = { ...globalArgs, ...stage.env };
    switch (keyword) {
      case 'WORKDIR':
        stage.workdir = posix.resolve(stage.workdir, substitute(args.trim(), vars));
        stage.hostWorkdir = join(stage.root, stage.workdir);
        mkdirSync(stage.hostWorkdir, { recursive: true });
        break;
      case 'ENV':
        for (const [key, value] of Object.entries(parseKeyValues(args))) {
          stage.env[key] = substitute(value, vars);
        }
        break;
      case 'ARG':
        for (const [key, value] of Object.entries(parseKeyValues(args))) {
          if (value !== '' && !(key in stage.env)) globalArgs[key] = value;
        }
        break;
      case 'COPY':
      case 'ADD': {
        const { flags, rest } = takeFlags(args);
        const parts = rest.trim().startsWith('[')
          ? execForm(rest, where)
          : rest.trim().split(/\s+/);
        const destination = substitute(parts[parts.length - 1], vars);
        const sources = parts.slice(0, -1).map((part) => substitute(part, vars));
        const fromStage = flags.from ? stages.get(flags.from) : undefined;
        if (flags.from && !fromStage) throw new Error(`${where}: unknown stage ${flags.from}`);
        const destHost = host(stage, destination);
        const intoDir = destination.endsWith('/') || sources.length > 1;
        for (const source of sources) {
          const sourceHost = fromStage
            ? join(fromStage.root, posix.resolve(fromStage.workdir, source))
            : resolve(context, source);
          if (!fromStage && !inContext(sourceHost)) {
            throw new Error(`${where}: ${source} is excluded by .dockerignore`);
          }
          if (!existsSync(sourceHost)) throw new Error(`${where}: ${source} does not exist`);
          const isDir = statSync(sourceHost).isDirectory();
          // A directory's contents go into the destination; a file goes into it when it is a dir.
          const target = isDir || !intoDir ? destHost : join(destHost, basename(sourceHost));
          copyTree(sourceHost, target, fromStage ? () => true : inContext);
          log(`${where} ${fromStage ? `${fromStage.name}:` : ''}${source} -> ${destination}`);
        }
        break;
      }
      case 'RUN': {
        const { rest } = takeFlags(args);
        const command = execForm(rest, where);
        log(`${where} ${rest}`);
        const result = spawnSync(command[0], command.slice(1), {
          cwd: stage.hostWorkdir,
          env: { ...process.env, ...stage.env },
          stdio: ['ignore', 2, 2], // keep stdout for the JSON summary
        });
        if (result.status !== 0) {
          throw new Error(`${where} failed with exit status ${result.status ?? result.signal}`);
        }
        break;
      }
      case 'USER':
        stage.user = substitute(args.trim(), vars);
        break;
      case 'EXPOSE':
        stage.expose.push(...args.trim().split(/\s+/));
        break;
      case 'STOPSIGNAL':
        stage.stopSignal = args.trim();
        break;
      case 'CMD':
        stage.cmd = execForm(args, where);
        break;
      case 'ENTRYPOINT':
        stage.entrypoint = execForm(args, where);
        break;
      case 'HEALTHCHECK': {
        const { flags, rest } = takeFlags(args);
        const match = /^CMD\s+(.*)$/is.exec(rest.trim());
        if (!match) throw new Error(`${where}: expected HEALTHCHECK [options] CMD ...`);
        stage.healthcheck = { options: flags, command: execForm(match[1], where) };
        break;
      }
      case 'LABEL':
      case 'SHELL':
      case 'VOLUME':
      case 'ONBUILD':
        log(`${where} recorded only`);
        break;
      default:
        throw new Error(`${where}: unsupported instruction`);
    }
  }
  if (!stage) throw new Error('the Dockerfile has no FROM');
  return stage;
}

function main(): void {
  const [dockerfile, outDir] = process.argv.slice(2);
  if (!dockerfile || !outDir) {
    process.stderr.write('usage: dockerfile-replay.ts <Dockerfile> <out-dir>\n');
    process.exit(64);
  }
  mkdirSync(outDir, { recursive: true });
  if (readdirSync(outDir).length > 0) {
    process.stderr.write(`replay: ${outDir} must be empty\n`);
    process.exit(64);
  }
  try {
    const final = replay(dockerfile, resolve(outDir));
    process.stdout.write(JSON.stringify(final, null, 2) + '\n');
  } catch (error) {
    process.stderr.write(`replay: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  }
}

if (require.main === module) main();
