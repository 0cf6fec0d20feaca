/**
 * The fleet every bench program declares, from stack config: `devices` devices named `<prefix><zero-padded index>`
 * in product `productKey`, and the campaign.
 */
import * as pulumi from "@pulumi/pulumi";

/** The generated fleet and campaign of a bench program. */
export interface BenchFleet {
  /** The stack config of the program. */
  readonly config: pulumi.Config;
  /** The devices, in index order. */
  readonly devices: Array<{ productKey: string; deviceName: string }>;
  /** The reset campaign. */
  readonly campaign: string;
}

/** Reads the fleet from the program's stack config. */
export function benchFleet(): BenchFleet {
  const config = new pulumi.Config();
  const count = config.requireNumber("devices");
  const productKey = config.get("productKey") ?? "a1Bench";
  const prefix = config.get("prefix") ?? "dev-";
  const pad = config.getNumber("pad") ?? 5;
  const devices = Array.from({ length: count }, (_, i) => ({
    productKey,
    deviceName: `${prefix}${String(i).padStart(pad, "0")}`,
  }));
  return { config, devices, campaign: config.get("campaign") ?? "bench" };
}
