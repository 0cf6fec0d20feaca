// Idle keep-alive sockets to the API are closed by the client before a server would close them, so that no request
// is ever written to a socket the server is closing at that moment (an ECONNRESET after sending: an unknown outcome).
import { IDLE_SOCKET_MS } from "../../provider/host/iot-api";
import { readSettings } from "../../provider/host/settings";
import { configFor, context, emulator, fakeServer } from "./support";

const pair = { productKey: "a1DemoProduct", deviceName: "sensor-001" };

test("the idle timeout stays below the connect timeout (Node keeps a request's own timeout only when they differ)", () => {
  expect(IDLE_SOCKET_MS).toBeLessThan(readSettings(() => undefined).connectTimeoutMs);
});

test("calls in a row share one socket; once idle, the client closes it, no sooner than IDLE_SOCKET_MS", async () => {
  const emu = await emulator();
  // A server that keeps idle connections for a minute, as the emulator does: here only the client closes them.
  const server = await fakeServer((_req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ RequestId: "R-1", Success: true }));
  });
  try {
    const api = context(configFor(emu)).api({ endpoint: server.endpoint });
    await api.resetThing(pair);
    // The socket goes idle for good once the second call is answered, after this moment.
    const idleFrom = Date.now();
    await api.resetThing(pair);
    expect([server.count(), server.connections(), server.open()]).toEqual([2, 1, 1]);

    // Timers never fire early, so the close comes no sooner than the idle timeout; 15 s only bounds a hang (the
    // server itself would wait 65 s).
    const deadline = idleFrom + 15_000;
    while (server.open() > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(server.open()).toBe(0);
    expect(Date.now() - idleFrom).toBeGreaterThanOrEqual(IDLE_SOCKET_MS);

    await api.resetThing(pair);
    expect([server.count(), server.connections()]).toEqual([3, 2]);
  } finally {
    await server.close();
    await emu.stop();
  }
});
