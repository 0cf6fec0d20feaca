/**
 * The benchmark fleet: devices `dev-00000` … in product `a1Bench` of the public instance, the same names in
 * the emulator's fleet, in the bench programs (which generate them from config) and in the bare-SDK loops.
 */
import type { FleetFile } from "../emulator";

/** ProductKey of every benchmark device. */
export const PRODUCT_KEY = "a1Bench";
/** DeviceName prefix; the rest is the zero-padded index. */
export const PREFIX = "dev-";

/** Zero-padding width for a fleet of `count`: 5 digits, more when the fleet needs them. */
export function padFor(count: number): number {
  return Math.max(5, String(Math.max(0, count - 1)).length);
}

/** The DeviceName of device `index` in a fleet padded to `pad` digits. */
export function deviceName(index: number, pad: number): string {
  return `${PREFIX}${String(index).padStart(pad, "0")}`;
}

/** The first `count` devices of a fleet of `fleetSize`. */
export function devices(count: number, fleetSize = count): Array<{ productKey: string; deviceName: string }> {
  const pad = padFor(fleetSize);
  return Array.from({ length: count }, (_, i) => ({ productKey: PRODUCT_KEY, deviceName: deviceName(i, pad) }));
}

/** An emulator fleet holding exactly `count` dynamic-registration devices, registered and activated. */
export function fleetOf(count: number): FleetFile {
  return {
    description: `benchmark fleet of ${count} devices`,
    products: [
      {
        productKey: PRODUCT_KEY,
        productName: "Benchmark devices",
        generate: { prefix: PREFIX, count, pad: padFor(count) },
      },
    ],
  };
}
