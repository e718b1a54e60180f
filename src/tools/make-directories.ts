import { mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/**
 * `mkdir -p`: creates `path` and its missing parents; an existing directory is fine. Node's own
 * `mkdirSync(path, { recursive: true })` is not used because it loops forever, at full CPU, when mkdir answers
 * ENOENT under a parent that exists (procfs, e.g. `--data /proc/x`); here every directory is made once, top down,
 * and the first failure is thrown (ENOENT, EACCES, ENOTDIR, ...).
 */
export function makeDirectories(path: string): void {
  const missing: string[] = [];
  let current = resolve(path);
  // Bounded by the number of path components: dirname of the root is the root.
  for (;;) {
    let exists = true;
    try {
      statSync(current);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      exists = false;
    }
    if (exists) break;
    missing.push(current);
    const parent = dirname(current);
    if (parent === current) break;
    current = parent;
  }
  for (let i = missing.length - 1; i >= 0; i--) {
    try {
      mkdirSync(missing[i]);
    } catch (error) {
      // Made meanwhile by someone else: as good as made here, if it is a directory.
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || !statSync(missing[i]).isDirectory()) throw error;
    }
  }
  // `path` existed already, or a component was a file: mkdir's own check says which.
  if (missing.length === 0 && !statSync(current).isDirectory()) mkdirSync(current);
}
