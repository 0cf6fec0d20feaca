/**
 * Provider-host side: notices when the Pulumi engine that started this host is gone. A SIGKILLed CLI leaves
 * its provider host running (it would go on sending resets the engine can no longer record, then idle), so
 * the host watches the engine's gRPC address, which the engine passes as the host's first argument.
 */
import * as net from "net";

/** How often the engine is looked for: a reset can leave at most this long (plus one connect) after it died. */
export const ENGINE_POLL_MS = 100;

/** The engine's `host:port` from the dynamic-provider host's arguments, or undefined when it has none. */
export function engineAddress(argv: readonly string[] = process.argv): { host: string; port: number } | undefined {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(argv[2] ?? "");
  if (!match) return undefined;
  const port = Number(match[3]);
  return Number.isInteger(port) && port > 0 && port < 65536 ? { host: match[1] ?? match[2] ?? "", port } : undefined;
}

/**
 * Calls `onGone` once, when a connection to the engine's address is refused: the process that listened
 * there has exited. Timeouts and other errors are not taken for death (a busy engine is slow, not gone).
 * Returns a function that stops watching. The timer never keeps the process alive by itself.
 */
export function watchEngine(
  address: { host: string; port: number },
  onGone: (why: string) => void,
  pollMs: number = ENGINE_POLL_MS,
): () => void {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const probe = (): void => {
    if (stopped) return;
    const socket = net.connect({ host: address.host, port: address.port });
    socket.setTimeout(pollMs * 4);
    const next = (): void => {
      socket.destroy();
      if (!stopped) timer = setTimeout(probe, pollMs).unref();
    };
    socket.once("connect", next);
    socket.once("timeout", next);
    socket.once("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "ECONNREFUSED") {
        stopped = true;
        socket.destroy();
        onGone(`the Pulumi engine at ${address.host}:${address.port} is gone (the CLI exited or was killed)`);
      } else next();
    });
    socket.unref();
  };
  timer = setTimeout(probe, pollMs).unref();
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
  };
}
