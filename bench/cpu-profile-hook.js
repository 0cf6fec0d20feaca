// Loaded with `node --require` (through NODE_OPTIONS, which refuses --cpu-prof) by the bench's profile tool: records a
// V8 CPU profile of this process in 10-second chunks into $IOT_RESET_CPU_PROFILE_DIR, since the engine ends the provider
// host without a chance to write one at exit.
"use strict";
const inspector = require("inspector");
const fs = require("fs");
const path = require("path");
const dir = process.env.IOT_RESET_CPU_PROFILE_DIR;
if (dir) {
  fs.mkdirSync(dir, { recursive: true });
  const session = new inspector.Session();
  session.connect();
  let chunk = 0;
  const start = () => session.post("Profiler.enable", () => session.post("Profiler.start"));
  const flush = () =>
    session.post("Profiler.stop", (err, result) => {
      if (!err && result) {
        const file = path.join(dir, `host-${process.pid}-${String(chunk++).padStart(4, "0")}.cpuprofile`);
        fs.writeFileSync(file, JSON.stringify(result.profile));
      }
      start();
    });
  session.post("Profiler.setSamplingInterval", { interval: 1000 }, start);
  setInterval(flush, 10_000).unref();
}
