/**
 * A file the operator supplies, parsed once at start and again whenever it changes: watched (its
 * folder, so a file replaced by a rename is seen) and checked every `pollMs` as well (mounts
 * where change events do not arrive). A new version is parsed whole before it replaces the old
 * one (an atomic swap: a lookup sees the old or the new, never a mix); one that fails to parse
 * keeps the old and logs an error naming the file.
 */
import { type FSWatcher, readFileSync, statSync, watch } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { Logger } from 'pino';

export interface WatchedFileOptions<T> {
  path: string;
  /** what the file holds, for messages (e.g. "the City database") */
  what: string;
  /** the parsed content; throws when the file is not what it must be */
  parse: (bytes: Buffer, path: string) => T;
  log: Logger;
  /** stat check interval (0: change events only) */
  pollMs: number;
  /** after a new version replaced the old one */
  onSwap?: () => void;
  /** quiet time after a change event before the file is read (a copy in progress settles) */
  settleMs?: number;
}

const versionOf = (path: string): string => {
  const s = statSync(path);
  return `${s.ino}:${s.size}:${s.mtimeMs}`;
};

export class WatchedFile<T> {
  readonly #o: WatchedFileOptions<T>;
  #current: T;
  #version: string;
  #watcher: FSWatcher | undefined;
  #poll: NodeJS.Timeout | undefined;
  #settle: NodeJS.Timeout | undefined;
  #failedVersion = '';

  /** Reads and parses the file now; throws (naming the file and the variable's job) when it cannot. */
  constructor(o: WatchedFileOptions<T>) {
    this.#o = o;
    try {
      this.#version = versionOf(o.path);
      this.#current = o.parse(readFileSync(o.path), o.path);
    } catch (err) {
      throw new Error(`${o.what} ${o.path} cannot be read: ${(err as Error).message}`);
    }
  }

  get current(): T {
    return this.#current;
  }

  /** Starts following changes (idempotent). */
  watch(): this {
    if (this.#watcher !== undefined || this.#poll !== undefined) return this;
    const name = basename(this.#o.path);
    try {
      this.#watcher = watch(dirname(this.#o.path), { persistent: false }, (_event, file) => {
        if (file === null || file === name) this.#changed();
      });
      this.#watcher.on('error', (err) =>
        this.#o.log.warn({ file: this.#o.path, err: err.message }, `${this.#o.what}: watching stopped`),
      );
    } catch (err) {
      this.#o.log.warn(
        { file: this.#o.path, err: (err as Error).message },
        `${this.#o.what}: cannot watch its folder; changes are found by the periodic check alone`,
      );
    }
    if (this.#o.pollMs > 0) {
      this.#poll = setInterval(() => this.reloadIfChanged(), this.#o.pollMs);
      this.#poll.unref();
    }
    return this;
  }

  #changed(): void {
    clearTimeout(this.#settle);
    this.#settle = setTimeout(() => this.reloadIfChanged(), this.#o.settleMs ?? 100);
    this.#settle.unref();
  }

  /** Reads the file again when it changed; 'swapped', 'kept' (broken or gone: the old stays) or 'same'. */
  reloadIfChanged(): 'swapped' | 'kept' | 'same' {
    const { path, what, log } = this.#o;
    let version: string;
    try {
      version = versionOf(path);
    } catch (err) {
      if (this.#failedVersion !== 'gone')
        log.error(
          { file: path, err: (err as Error).message },
          `${what} ${path} is gone: the version read before stays in use until a readable file is back`,
        );
      this.#failedVersion = 'gone';
      return 'kept';
    }
    if (version === this.#version) return 'same';
    if (version === this.#failedVersion) return 'kept';
    let next: T;
    try {
      next = this.#o.parse(readFileSync(path), path);
    } catch (err) {
      this.#failedVersion = version;
      log.error(
        { file: path, err: (err as Error).message },
        `${what} ${path} changed but cannot be read (${(err as Error).message}): the version read before stays in use; replace the file with a valid one (write it aside, then rename it over this one)`,
      );
      return 'kept';
    }
    this.#current = next;
    this.#version = version;
    this.#failedVersion = '';
    log.info({ file: path }, `${what} reloaded`);
    this.#o.onSwap?.();
    return 'swapped';
  }

  close(): void {
    this.#watcher?.close();
    clearInterval(this.#poll);
    clearTimeout(this.#settle);
    this.#watcher = undefined;
    this.#poll = undefined;
  }
}
