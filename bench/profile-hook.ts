/**
 * @module profile-hook
 * Preloaded into the correio child (node --import dist/bench/profile-hook.js) when the bench
 * profiles: the first SIGUSR2 starts V8's CPU profiler, the second stops it and writes
 * $BENCH_PROFILE_FILE (a .cpuprofile), so the profile covers exactly the measured window and
 * does not depend on how the process exits.
 * Standards: the inspector protocol's Profiler domain.
 * Security: only active when BENCH_PROFILE_FILE is set; writes that one file.
 * Limitations: the main thread only (libuv's file-system threads are not sampled).
 */
import fs from 'node:fs';
import { Session } from 'node:inspector';

const file = process.env.BENCH_PROFILE_FILE;
if (file) {
  const session = new Session();
  session.connect();
  let running = false;
  process.on('SIGUSR2', () => {
    if (!running) {
      running = true;
      session.post('Profiler.enable', () => session.post('Profiler.setSamplingInterval', { interval: 500 }, () => session.post('Profiler.start')));
      return;
    }
    running = false;
    session.post('Profiler.stop', (err, res) => {
      if (!err) {
        fs.writeFileSync(`${file}.tmp`, JSON.stringify(res.profile));
        fs.renameSync(`${file}.tmp`, file);
      }
      else fs.writeFileSync(`${file}.error`, String(err));
    });
  });
}
