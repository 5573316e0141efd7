import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * The bench stacks' files (receipts, keys, logs), removed when the whole run ends, not when each
 * stack stops. On this machine's root filesystem (ext4 without a journal) every file creation
 * skips over inodes freed in the last 1–6 minutes (`recently_deleted` in the inode allocator),
 * reading each one's block: a stack started right after another's ~40,000 receipt files were
 * deleted spent ~15 % of the machine's CPU there (perf: `find_inode_bit → recently_deleted`) and
 * stored ~25 % fewer receipts than one started with no deletion in the minutes before (0.3 %).
 * MC writes receipts and never deletes them minutes later, so the run keeps its files until it
 * ends, and says when an earlier run (or anything using this stamp) deleted files shortly before.
 */
const made: string[] = [];
const stampFile = join(tmpdir(), 'mc-bench-files-deleted-at');
/** How long after a deletion creations stay slow: 60 s, 360 s while the inode's block is dirty. */
export const slowCreationWindowMs = 6 * 60_000;

export function makeStackDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'mc-bench-'));
  made.push(dir);
  return dir;
}

/** Deletes the run's stack directories (at the end of a run) and stamps the time for the next run. */
export function removeStackDirs(): number {
  const dirs = made.splice(0);
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  if (dirs.length > 0) writeFileSync(stampFile, `${new Date().toISOString()}\n`);
  return dirs.length;
}

/** The stack directories made so far and not removed (what `--keep-files` leaves behind). */
export function stackDirs(): readonly string[] {
  return made;
}

/** Milliseconds since an earlier bench run deleted its files, when that was within the slow window. */
export function recentDeletionMs(): number | null {
  try {
    const at = Date.parse(readFileSync(stampFile, 'utf8').trim());
    const age = Date.now() - (Number.isFinite(at) ? at : statSync(stampFile).mtimeMs);
    return age >= 0 && age < slowCreationWindowMs ? age : null;
  } catch {
    return null;
  }
}
