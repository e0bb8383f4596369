import { readFileSync } from 'node:fs'

/**
 * Reads a child process' resident memory and CPU time from /proc, so the
 * figures describe the server process itself and not the load generator.
 */

const CLOCK_TICKS_PER_SECOND = 100

export function readRssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)
  if (!match?.[1]) throw new Error(`no VmRSS for pid ${pid}`)
  return Number(match[1]) * 1024
}

/**
 * CPU seconds (user + system) of the whole process: /proc/<pid>/stat of a process (the
 * thread-group leader) sums all its threads, worker threads and libuv's pool included,
 * and keeps the time of threads that have exited. Checked on the bench machine: with
 * two busy worker threads, the process' figure matched the sum of
 * /proc/<pid>/task/<tid>/stat (the main thread's own share was small) and kept the
 * workers' time after they exited.
 */
export function readCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // The command name (field 2) may contain spaces and parentheses; fields after
  // the last ')' are fixed. utime and stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const utime = Number(fields[11])
  const stime = Number(fields[12])
  return (utime + stime) / CLOCK_TICKS_PER_SECOND
}

/**
 * Seconds the process' main thread spent runnable but waiting for a core (the second
 * field of /proc/<pid>/task/<pid>/schedstat, in ns). On a shared machine this is where
 * other work shows up: a server that waits 300 ms for its core delays every delivery
 * of those 300 ms, however little CPU it needs itself. 0 where schedstat is missing.
 */
export function readRunQueueWaitSeconds(pid: number): number {
  try {
    return Number(readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ')[1]) / 1e9
  } catch {
    return 0
  }
}

/**
 * Per-core jiffies from /proc/stat: total and stolen (time the hypervisor ran something
 * else while this virtual CPU wanted to run). Steal is invisible to a process' own CPU
 * time but shows up in its latency, so a measurement taken while the host stole a core
 * describes the host, not the server.
 */
export interface CoreTimes {
  total: number
  steal: number
}

/** The times of each of `cores`, from one read of /proc/stat. */
export function readCoreTimes(cores: readonly string[]): CoreTimes[] {
  const rows = readFileSync('/proc/stat', 'utf8').split('\n')
  return cores.map((core) => {
    const line = rows.find((row) => row.startsWith(`cpu${core} `))
    if (!line) return { total: 0, steal: 0 }
    const fields = line.trim().split(/\s+/).slice(1).map(Number)
    // user nice system idle iowait irq softirq steal guest guest_nice; guests are inside user.
    const total = fields.slice(0, 8).reduce((sum, value) => sum + value, 0)
    return { total, steal: fields[7] ?? 0 }
  })
}

/** The largest fraction of any core's time stolen between two readings of the same cores. */
export function mostStolenFraction(before: readonly CoreTimes[], after: readonly CoreTimes[]): number {
  let most = 0
  for (const [index, end] of after.entries()) {
    const start = before[index] ?? end
    const total = end.total - start.total
    if (total > 0) most = Math.max(most, (end.steal - start.steal) / total)
  }
  return most
}
