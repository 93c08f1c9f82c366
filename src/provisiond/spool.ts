/**
 * The spool directory: a JSON file (one task or an array of tasks) dropped into DIR is ingested
 * atomically and moved to DIR/done/, or to DIR/failed/ with the reason beside it
 * (failed/NAME.error.txt, which appears only once NAME is there: a reader may wait for it). Only
 * complete files are taken: names starting with "." and names not ending in ".json" are ignored,
 * so a writer creates `.NAME.tmp` (or NAME.json.tmp) and renames it to NAME.json when complete.
 * A file is claimed by renaming it into DIR/.processing/, so two scans never take the same file;
 * after a crash, files found there are ingested again, which is harmless: a re-submitted task with
 * the same id and body is the existing task.
 * A bad file is refused whole (all or nothing) and harms nothing else in the queue.
 */
import { type FSWatcher, watch } from 'node:fs';
import { mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseJsonText } from './api.js';
import { ProvisiondError, asProvisiondError } from './errors.js';
import type { TaskQueue } from './queue.js';
import { parseTasks } from './task.js';

export const DEFAULT_SCAN_INTERVAL_MS = 2000;
/** A spool file larger than this is refused unread. */
export const MAX_SPOOL_FILE_BYTES = 64 * 1024 * 1024;

export interface SpoolOptions {
  readonly dir: string;
  readonly queue: TaskQueue;
  readonly log?: (message: string) => void;
  /** Rescan even without a watch event (events can be lost). */
  readonly scanIntervalMs?: number;
}

export interface SpoolReport {
  readonly done: string[];
  readonly failed: string[];
}

/** The reason beside a refused file in DIR/failed/. */
function reasonName(name: string): string {
  return `${name}.error.txt`;
}

/** The reason while it is written, before the refused file is beside it (a dotfile: listings skip it). */
function pendingReasonName(name: string): string {
  return `.${name}.error.txt.tmp`;
}

/**
 * Finishes refusals a crash interrupted: a pending reason whose file reached failed/ is put in
 * place; one whose file did not is dropped (the file is still claimed and is ingested again).
 */
async function finishRefusals(failed: string): Promise<void> {
  const names = await readdir(failed);
  for (const pending of names.filter((n) => n.startsWith('.') && n.endsWith('.error.txt.tmp'))) {
    const name = pending.slice(1, -'.error.txt.tmp'.length);
    if (names.includes(name)) await rename(join(failed, pending), join(failed, reasonName(name)));
    else await rm(join(failed, pending), { force: true });
  }
}

/** Names the spool takes: complete JSON files, never dotfiles or temp names. */
export function isSpoolFileName(name: string): boolean {
  return !name.startsWith('.') && name.endsWith('.json') && name.length > '.json'.length;
}

export class Spool {
  readonly dir: string;
  readonly #queue: TaskQueue;
  readonly #log: (message: string) => void;
  readonly #processing: string;
  #watcher: FSWatcher | null = null;
  #timer: NodeJS.Timeout | null = null;
  #scanning: Promise<SpoolReport> | null = null;
  #again = false;
  #closed = false;
  readonly #listeners = new Set<(report: SpoolReport) => void>();

  private constructor(options: SpoolOptions) {
    this.dir = options.dir;
    this.#queue = options.queue;
    this.#log = options.log ?? (() => {});
    this.#processing = join(options.dir, '.processing');
  }

  /** Creates the directories, ingests what is there (claimed leftovers first) and starts watching. */
  static async start(options: SpoolOptions): Promise<Spool> {
    const spool = new Spool(options);
    for (const sub of ['', '.processing', 'done', 'failed'])
      await mkdir(join(options.dir, sub), { recursive: true, mode: 0o700 });
    await finishRefusals(join(options.dir, 'failed'));
    await spool.scan();
    spool.#watcher = watch(options.dir, () => spool.#requestScan());
    spool.#watcher.on('error', (error) =>
      spool.#log(
        `spool: watching ${options.dir} failed (${(error as NodeJS.ErrnoException).code ?? 'error'}); scanning every ${options.scanIntervalMs ?? DEFAULT_SCAN_INTERVAL_MS} ms`,
      ),
    );
    spool.#timer = setInterval(() => spool.#requestScan(), options.scanIntervalMs ?? DEFAULT_SCAN_INTERVAL_MS);
    return spool;
  }

  /** Calls `listener` after each scan that moved files (tests await ingestion with it). */
  onIngest(listener: (report: SpoolReport) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  close(): void {
    this.#closed = true;
    this.#watcher?.close();
    if (this.#timer) clearInterval(this.#timer);
  }

  /** Ingests every eligible file now; one scan at a time (a request during a scan runs another after it). */
  scan(): Promise<SpoolReport> {
    if (this.#scanning) {
      this.#again = true;
      return this.#scanning;
    }
    this.#scanning = this.#scanOnce().finally(() => {
      this.#scanning = null;
      if (this.#again && !this.#closed) {
        this.#again = false;
        void this.scan();
      }
    });
    return this.#scanning;
  }

  #requestScan(): void {
    if (!this.#closed) void this.scan();
  }

  async #scanOnce(): Promise<SpoolReport> {
    const claimed: string[] = (await readdir(this.#processing)).filter(isSpoolFileName);
    for (const name of (await readdir(this.dir)).filter(isSpoolFileName)) {
      try {
        if (!(await stat(join(this.dir, name))).isFile()) continue;
        await rename(join(this.dir, name), join(this.#processing, name));
        claimed.push(name);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT')
          this.#log(`spool: cannot claim ${name}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
      }
    }
    const report: SpoolReport = { done: [], failed: [] };
    await Promise.all([...new Set(claimed)].map((name) => this.#ingest(name, report)));
    if (report.done.length + report.failed.length > 0) for (const listener of [...this.#listeners]) listener(report);
    return report;
  }

  async #ingest(name: string, report: SpoolReport): Promise<void> {
    const path = join(this.#processing, name);
    let tasks;
    try {
      const info = await stat(path);
      if (info.size > MAX_SPOOL_FILE_BYTES)
        throw new ProvisiondError('ETOOLARGE', `${name}: larger than ${MAX_SPOOL_FILE_BYTES} bytes`);
      tasks = parseTasks(parseJsonText(await readFile(path, 'utf8'), '/'));
      const results = await this.#queue.submit(tasks, `spool:${name}`);
      await rename(path, join(this.dir, 'done', name));
      report.done.push(name);
      this.#log(
        `spool: ${name}: ${results.length} task(s) queued (${results.filter((r) => !r.created).length} already known)`,
      );
    } catch (error) {
      const e = asProvisiondError(error);
      if (e.code === 'EUNAVAILABLE' || e.code === 'EINTERNAL') {
        // Not the file's fault: it stays claimed and is ingested by a later scan or run.
        this.#log(`spool: ${name}: not ingested now: ${e.message}`);
        return;
      }
      const issues = e.context.issues ?? [];
      const lines = [`${name}: ${e.message}`, ...issues.slice(1).map((i) => `${name}: ${i.path || '/'}: ${i.message}`)];
      // The reason is what a reader waits for, so it appears last: written aside, the file moved,
      // then the reason renamed into place. A crash in between is finished by the next start.
      const failed = join(this.dir, 'failed');
      await writeFile(join(failed, pendingReasonName(name)), `${lines.join('\n')}\n`, { mode: 0o600 });
      await rename(path, join(failed, name));
      await rename(join(failed, pendingReasonName(name)), join(failed, reasonName(name)));
      report.failed.push(name);
      this.#log(`spool: ${name}: refused: ${e.message}`);
    }
  }
}
