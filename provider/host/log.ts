/**
 * Log lines from the provider process. The dynamic-provider host has no engine connection for logging, and
 * the Pulumi engine shows a provider's stderr as diagnostics next to the update, so lines go to stderr.
 */

/** Writes one informational line. */
export function info(message: string): void {
  process.stderr.write(`iot-reset: ${message}\n`);
}

/** Writes one warning line. */
export function warn(message: string): void {
  process.stderr.write(`iot-reset: warning: ${message}\n`);
}
