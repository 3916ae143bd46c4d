import { readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat: USER_HZ, 100 on Linux for x86 and arm64. */
export const USER_HZ = 100;

/** VmRSS, VmHWM (KiB) and utime + stime (ticks) of a live process. */
export function sampleProcess(pid: number): { rssKiB: number; hwmKiB: number; cpuTicks: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  // Fields after the command name (which may hold spaces, so split after its closing parenthesis): utime is 14th, stime 15th.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const after = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { rssKiB: field('VmRSS'), hwmKiB: field('VmHWM'), cpuTicks: Number(after[11]) + Number(after[12]) };
}
