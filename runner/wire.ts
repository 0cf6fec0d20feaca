/**
 * Pulumi's property encoding on the wire (`google.protobuf.Struct` as plain JSON): secrets, unknowns
 * and resource references are objects tagged with a signature key. The constants mirror
 * `@pulumi/pulumi/runtime/rpc.js`.
 */

/** Key under which Pulumi tags special values inside a struct. */
export const SIG_KEY = "4dabf18193072939515e22adb298388d";
/** Signature value that marks a secret: `{ [SIG_KEY]: SECRET_SIG, value }`. */
export const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
/** Signature value that marks a resource reference: `{ [SIG_KEY]: RESOURCE_SIG, urn, id? }`. */
export const RESOURCE_SIG = "5cf8f73096256a8f31e491e813e4eb8e";
/** The string that stands for a value not known until apply (only seen during preview). */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
/** Key holding the serialized dynamic provider in every dynamic resource's inputs and outputs. */
export const PROVIDER_KEY = "__provider";

/** A JSON object as carried by a `google.protobuf.Struct`. */
export type Props = Record<string, unknown>;

function isObject(v: unknown): v is Props {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** True when `v` is the wire form of a secret. */
export function isSecret(v: unknown): v is { value: unknown } {
  return isObject(v) && v[SIG_KEY] === SECRET_SIG;
}

/** Wraps `value` in the wire form of a secret. */
export function makeSecret(value: unknown): Props {
  return { [SIG_KEY]: SECRET_SIG, value };
}

/**
 * Removes secret wrappers and turns resource references into their id (or URN), as the engine does
 * for a provider that, like the dynamic-provider host, accepts neither secrets nor resources.
 */
export function toProviderValue(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(toProviderValue);
  if (!isObject(v)) return v;
  if (v[SIG_KEY] === SECRET_SIG) return toProviderValue(v.value);
  if (v[SIG_KEY] === RESOURCE_SIG) {
    const id = v.id;
    return typeof id === "string" && id !== "" ? id : v.urn;
  }
  const out: Props = {};
  for (const [k, x] of Object.entries(v)) out[k] = toProviderValue(x);
  return out;
}

/** {@link toProviderValue} for a whole property map. */
export function toProviderProps(p: Props): Props {
  return toProviderValue(p) as Props;
}

function containsSecret(v: unknown): boolean {
  if (isSecret(v)) return true;
  if (Array.isArray(v)) return v.some(containsSecret);
  if (isObject(v)) return Object.values(v).some(containsSecret);
  return false;
}

/** The top-level keys of `p` whose value holds a secret anywhere inside. */
export function secretKeys(p: Props): string[] {
  return Object.keys(p).filter((k) => containsSecret(p[k]));
}

/**
 * Marks the given top-level keys of provider outputs as secret again: the engine keeps an output
 * secret when the input of the same name was, because the host strips secrets on the way in.
 */
export function markSecrets(p: Props, keys: readonly string[]): Props {
  const out: Props = { ...p };
  for (const k of keys) {
    if (k in out && !isSecret(out[k])) out[k] = makeSecret(out[k]);
  }
  return out;
}

/** The display form of a wire value: secrets as `[secret]`, unknowns as `[unknown]`. */
export function toDisplay(v: unknown): unknown {
  if (v === UNKNOWN) return "[unknown]";
  if (Array.isArray(v)) return v.map(toDisplay);
  if (!isObject(v)) return v;
  if (v[SIG_KEY] === SECRET_SIG) return "[secret]";
  if (v[SIG_KEY] === RESOURCE_SIG) return v.urn;
  const out: Props = {};
  for (const [k, x] of Object.entries(v)) out[k] = toDisplay(x);
  return out;
}

/** Deep equality of two JSON values, used where the engine compares property maps. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((x, i) => jsonEqual(x, b[i]));
  }
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    return ka.length === kb.length && ka.every((k) => k in b && jsonEqual(a[k], b[k]));
  }
  return false;
}

/** `p` without the serialized provider, for comparisons that must survive a provider upgrade. */
export function withoutProvider(p: Props): Props {
  const { [PROVIDER_KEY]: _ignored, ...rest } = p;
  void _ignored;
  return rest;
}
