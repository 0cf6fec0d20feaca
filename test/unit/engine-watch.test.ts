/** The provider host notices a dead engine by its refused address, and nothing else. */
import * as net from "net";
import { engineAddress, watchEngine } from "../../provider/host/engine-watch";

function listen(): Promise<net.Server> {
  return new Promise((resolve) => {
    const server = net.createServer((socket) => socket.destroy());
    server.listen(0, "127.0.0.1", () => resolve(server));
  });
}

test("the engine address is the host's first argument", () => {
  expect(engineAddress(["node", "index.js", "127.0.0.1:40123"])).toEqual({ host: "127.0.0.1", port: 40123 });
  expect(engineAddress(["node", "index.js", "[::1]:40123", "ref"])).toEqual({ host: "::1", port: 40123 });
  expect(engineAddress(["node", "index.js"])).toBeUndefined();
  expect(engineAddress(["node", "index.js", "not-an-address"])).toBeUndefined();
  expect(engineAddress(["node", "index.js", "127.0.0.1:99999"])).toBeUndefined();
});

test("a listening engine is left alone; once it closes, onGone is called exactly once, naming it", async () => {
  const server = await listen();
  const { port } = server.address() as net.AddressInfo;
  const calls: string[] = [];
  let probes = 0;
  server.on("connection", () => probes++);
  const gone = new Promise<void>((resolve) => {
    watchEngine(
      { host: "127.0.0.1", port },
      (why) => {
        calls.push(why);
        resolve();
      },
      10,
    );
  });
  // Several probes reach the live engine without any call.
  while (probes < 5) await new Promise((r) => setTimeout(r, 10));
  expect(calls).toEqual([]);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await gone;
  await new Promise((r) => setTimeout(r, 50));
  expect(calls).toEqual([`the Pulumi engine at 127.0.0.1:${port} is gone (the CLI exited or was killed)`]);
});

test("a stopped watch never calls back", async () => {
  const server = await listen();
  const { port } = server.address() as net.AddressInfo;
  const calls: string[] = [];
  const stop = watchEngine({ host: "127.0.0.1", port }, (why) => calls.push(why), 10);
  stop();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await new Promise((r) => setTimeout(r, 100));
  expect(calls).toEqual([]);
});
