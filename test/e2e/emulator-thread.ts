/**
 * The emulator of an end-to-end test, on a worker thread of its own. The inline program runs in the test's process,
 * and its synchronous work (serializing the dynamic provider, building a cohort's batches) stalls that event loop:
 * an emulator there would answer late, then answer a bunch of calls at once and record their times together, so
 * that a one-second window or a quota saw calls the provider host had spaced out. On its own thread the emulator
 * answers and records at its own clock, whatever the test's event loop is doing.
 *
 * The test still calls it as it would call `startEmulator`'s emulator, synchronously: each call is posted to the
 * thread, and the test waits on a shared flag that the thread sets once its answer is posted back.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { MessageChannel, MessagePort, receiveMessageOnPort, Worker } from "node:worker_threads";
import type { Emulator, EmulatorOptions } from "../../emulator";
import { TEST_KEY_ID, TEST_SECRET } from "../provider/support";

/** The compiled emulator, the same code `npm start` runs (`npm test` builds `lib/` before jest starts). */
const EMULATOR_MODULE = path.resolve(__dirname, "..", "..", "lib", "emulator", "index.js");
/** Longest a call may take: `stop()` closes every socket, and a log of 100,000 requests is copied in well under it. */
const CALL_LIMIT_MS = 60_000;

/** The thread: starts the emulator, then runs each call it is sent and posts back its value or its error. */
const THREAD = `
const { parentPort, workerData } = require("node:worker_threads");
const flag = new Int32Array(workerData.flag);
const answer = (message) => {
  try {
    workerData.port.postMessage(message);
  } catch (err) {
    workerData.port.postMessage({ error: { name: "DataCloneError", message: String(err && err.message) } });
  }
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
};
const failed = (err) => answer({ error: { name: err && err.name, message: String(err && err.message ? err.message : err) } });
require(workerData.module).startEmulator(workerData.options).then((emu) => {
  parentPort.on("message", ({ method, args }) => {
    Promise.resolve()
      .then(() => emu[method](...args))
      .then((value) => answer({ value }), failed);
  });
  answer({ value: { endpoint: emu.endpoint, port: emu.port, credentials: emu.credentials } });
}, failed);
`;

/** Emulator options that can cross to the thread: plain data, no functions (`clock` and `onWarning` stay out). */
export type ThreadEmulatorOptions = Omit<EmulatorOptions, "clock" | "onWarning">;

interface Answer {
  readonly value?: unknown;
  readonly error?: { readonly name?: string; readonly message: string };
}

/** The threads this test file started: each runs until the file's tests are done, so a stopped emulator is still read. */
const threads = new Set<Worker>();
afterAll(async () => {
  await Promise.all([...threads].map((w) => w.terminate()));
  threads.clear();
});

/** A word nobody sets: waiting on it is a synchronous 1 ms pause. */
const PAUSE = new Int32Array(new SharedArrayBuffer(4));

/** Waits for the thread's next answer to a call posted after `flag` was cleared. */
function nextAnswer(flag: Int32Array, port: MessagePort, what: string): unknown {
  if (Atomics.wait(flag, 0, 0, CALL_LIMIT_MS) === "timed-out")
    throw new Error(`the emulator thread did not answer ${what} within ${CALL_LIMIT_MS / 1000} s`);
  // The flag can be seen set a moment before the message it announces is in the port's queue: look again briefly.
  let received = receiveMessageOnPort(port)?.message as Answer | undefined;
  for (let i = 0; !received && i < 1000; i++) {
    Atomics.wait(PAUSE, 0, 0, 1);
    received = receiveMessageOnPort(port)?.message as Answer | undefined;
  }
  if (!received) throw new Error(`the emulator thread answered ${what} with nothing`);
  if (received.error) {
    const err = new Error(received.error.message);
    if (received.error.name) err.name = received.error.name;
    throw err;
  }
  return received.value;
}

/**
 * Starts an emulator with the test credentials on a thread of its own; the result is used as an `Emulator`.
 * `stop()` closes its server; its log and counts stay readable until the test file ends.
 */
export async function threadEmulator(options: ThreadEmulatorOptions = {}): Promise<Emulator> {
  if (!fs.existsSync(EMULATOR_MODULE))
    throw new Error(`${EMULATOR_MODULE} is missing: build first (\`npx tsc -p tsconfig.json\`)`);
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const { port1, port2 } = new MessageChannel();
  const worker = new Worker(THREAD, {
    eval: true,
    workerData: {
      module: EMULATOR_MODULE,
      options: { credentials: [{ accessKeyId: TEST_KEY_ID, accessKeySecret: TEST_SECRET }], ...options },
      flag: flag.buffer,
      port: port1,
    },
    transferList: [port1],
  });
  // A thread left running must not hold the test process open.
  worker.unref();
  threads.add(worker);
  const started = nextAnswer(flag, port2, "its start") as Pick<Emulator, "endpoint" | "port" | "credentials">;
  const call = (method: string, args: unknown[]): unknown => {
    Atomics.store(flag, 0, 0);
    worker.postMessage({ method, args });
    return nextAnswer(flag, port2, `${method}()`);
  };
  const fixed: Record<string, unknown> = {
    ...started,
    stop: () => Promise.resolve(call("stop", [])),
  };
  return new Proxy(fixed, {
    get: (target, key) => {
      if (typeof key !== "string") return undefined;
      if (key in target) return target[key];
      // Not a thenable: the emulator is the value of an awaited promise.
      if (key === "then") return undefined;
      return (...args: unknown[]) => call(key, args);
    },
  }) as unknown as Emulator;
}
