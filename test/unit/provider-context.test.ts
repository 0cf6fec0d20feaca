// The update's state in the provider process: resource operations counted while they run, and an interruption that
// stops sending at once and ends the process only once no operation is under way.
import { ProviderContext } from "../../provider/host/provider-context";

/** Lets the promise callbacks queued so far run. */
const turn = () => new Promise((resolve) => setImmediate(resolve));

test("an interruption stops sending at once and runs its last step when the operations under way have ended", async () => {
  const ctx = new ProviderContext({}, "/nonexistent");
  const releases: Array<() => void> = [];
  const op = (name: string) => ctx.operation(() => new Promise<string>((r) => releases.push(() => r(name))));
  const first = op("first");
  const second = op("second");
  const idle: string[] = [];
  expect(ctx.interrupt("interrupted", () => idle.push("idle"))).toBe(1);
  expect(ctx.gate.stopped).toBe("interrupted");
  // A second interruption is counted (the host exits at once on it) and changes nothing else.
  expect(ctx.interrupt("again", () => idle.push("again"))).toBe(2);
  releases[0]?.();
  await expect(first).resolves.toBe("first");
  await turn();
  expect(idle).toEqual([]);
  releases[1]?.();
  await expect(second).resolves.toBe("second");
  await turn();
  expect(idle).toEqual(["idle"]);
  expect(ctx.gate.stopped).toBe("interrupted");
});

test("an operation that fails is no longer counted; with none under way, the last step runs right away", async () => {
  const ctx = new ProviderContext({}, "/nonexistent");
  await expect(ctx.operation(() => Promise.reject(new Error("refused")))).rejects.toThrow("refused");
  const idle: string[] = [];
  expect(ctx.interrupt("interrupted", () => idle.push("idle"))).toBe(1);
  await turn();
  expect(idle).toEqual(["idle"]);
});

test("without an interruption, operations end and nothing else runs", async () => {
  const ctx = new ProviderContext({}, "/nonexistent");
  await expect(ctx.operation(async () => 42)).resolves.toBe(42);
  expect(ctx.gate.stopped).toBeUndefined();
});
