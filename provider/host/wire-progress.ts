/**
 * How far one API attempt got on the wire: whether the SDK started its HTTP request, and whether the request
 * was completely written to the socket. The SDK's errors do not say this reliably (its "ConnectTimeout" is a
 * socket idle timer that also fires after the request was written), so the provider watches the request
 * itself: Node publishes every client request on the `http.client.request.start` diagnostics channel, and an
 * AsyncLocalStorage ties it to the attempt that made it.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import * as diagnostics from "node:diagnostics_channel";
import type { ClientRequest } from "node:http";

/** What one attempt's request did before it failed. */
export interface WireProgress {
  /** The SDK created the API request (credentials were resolved and the request signed). */
  started: boolean;
  /** The whole request reached the socket: from here on, the service may have acted on it. */
  written: boolean;
}

interface Attempt {
  readonly action: string;
  readonly progress: WireProgress;
}

const attempts = new AsyncLocalStorage<Attempt>();

function onRequestStart(message: unknown): void {
  const attempt = attempts.getStore();
  if (!attempt) return;
  const request = (message as { request?: ClientRequest }).request;
  // A credential provider may make its own HTTP calls (STS, OIDC) inside the attempt: only the API call counts.
  if (!request || request.getHeader("x-acs-action") !== attempt.action) return;
  attempt.progress.started = true;
  request.once("finish", () => {
    attempt.progress.written = true;
  });
}

diagnostics.subscribe("http.client.request.start", onRequestStart);

/** Runs one attempt of `action`, recording in `progress` how far its HTTP request got. */
export function tracked<T>(action: string, progress: WireProgress, send: () => Promise<T>): Promise<T> {
  return attempts.run({ action, progress }, send);
}
