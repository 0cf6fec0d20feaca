/**
 * Program side: refuses credentials kept as plain stack config. The engine stores the whole stack config as
 * the inputs of the default `pulumi-nodejs` provider in the checkpoint, so a key set with plain
 * `pulumi config set` sits unencrypted in `Pulumi.<stack>.yaml` and in the state of every update.
 */
import * as pulumi from "@pulumi/pulumi";
import { CONFIG_KEYS } from "../shared/config";
import { ConfigurationError } from "../shared/errors";

/** The config keys whose values must be set with `--secret`. */
const SECRET_KEYS = [CONFIG_KEYS.secretKey, CONFIG_KEYS.securityToken] as const;

/** Whether the runtime marks a config key secret; absent in runtimes that cannot tell, where nothing is refused. */
type IsConfigSecret = (key: string) => boolean;

/**
 * Throws a ConfigurationError when `alicloud:secretKey` or `alicloud:securityToken` is plain stack config,
 * before any resource is registered, so the update fails at preview and nothing is sent.
 */
export function refusePlaintextSecrets(): void {
  const isSecret = (pulumi.runtime as unknown as { isConfigSecret?: IsConfigSecret }).isConfigSecret;
  if (typeof isSecret !== "function") return;
  const plain = SECRET_KEYS.filter((key) => pulumi.runtime.getConfig(key) !== undefined && !isSecret(key));
  if (plain.length === 0) return;
  throw new ConfigurationError(
    `stack config ${plain.map((k) => `\`${k}\``).join(" and ")} is stored in plaintext: Pulumi keeps it unencrypted ` +
      `in Pulumi.<stack>.yaml and in the checkpoint of every update (as an input of the default pulumi-nodejs ` +
      `provider). Set it again with \`pulumi config set --secret ${plain[0]} <value>\`, or remove it ` +
      `(\`pulumi config rm ${plain[0]}\`) and use the ALICLOUD_SECRET_KEY environment variable or the Alibaba ` +
      `Cloud default credential chain. Nothing was sent.`,
  );
}
