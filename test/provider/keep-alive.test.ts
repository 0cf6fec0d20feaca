// Idle keep-alive sockets to the API are closed by the client before a server would close them, so that no request
// is ever written to a socket the server is closing at that moment (an ECONNRESET after sending: an unknown outcome).
import { IDLE_SOCKET_MS } from "../../provider/host/iot-api";
import { configFor, context, emulator, fakeServer } from "./support";

const pair = { productKey: "a1DemoProduct", deviceName: "sensor-001" };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test("a socket is reused while calls follow each other, and closed by the client once idle for IDLE_SOCKET_MS", async () => {
  const emu = await emulator();
  // A server that keeps idle connections for a minute, as the emulator and gateways do: only the client closes here.
  const server = await fakeServer((_req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ RequestId: "R-1", Success: true }));
  });
  try {
    const api = context(configFor(emu)).api({ endpoint: server.endpoint });
    await api.resetThing(pair);
    await sleep(IDLE_SOCKET_MS / 4);
    await api.resetThing(pair);
    expect(server.count()).toBe(2);
    expect(server.connections()).toBe(1);
    expect(server.open()).toBe(1);

    await sleep(IDLE_SOCKET_MS + 1_000);
    expect(server.open()).toBe(0);
    await api.resetThing(pair);
    expect(server.count()).toBe(3);
    expect(server.connections()).toBe(2);
  } finally {
    await server.close();
    await emu.stop();
  }
});
