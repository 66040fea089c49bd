// Preloaded with `node --import` into a process the bench measures (the CLI and the floor alike).
// At exit it writes the process's own peak resident set size (getrusage ru_maxrss, KiB) to the
// file named by BENCH_MAX_RSS_FILE: the kernel's high-water mark, so a short peak is not missed
// the way sampling /proc/<pid>/status would miss it. Plain JavaScript because plain `node` loads it.
import { writeFileSync } from 'node:fs';

const reportFile = process.env.BENCH_MAX_RSS_FILE;
if (reportFile) {
  process.on('exit', () => writeFileSync(reportFile, String(process.resourceUsage().maxRSS)));
}
