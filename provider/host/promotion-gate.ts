/**
 * The lifecycle of one `DevicePromotionGate`, in the provider host: when its stage becomes promoted, read the
 * state of the devices reset by earlier stages until enough of them came back online, or fail the update before
 * the stage's batches (which depend on the gate) reset anything.
 */
import type * as dynamic from "@pulumi/pulumi/dynamic";
import { DEVICE_STATE_BATCH, DeviceStateQuery, DeviceStatus, IotApi } from "./iot-api";
import type { ProviderContext } from "./provider-context";
import { changed, Props } from "./device-reset";
import { PromotionGateError } from "../shared/errors";
import { parseDeviceKey } from "../shared/device-key";
import {
  CheckFailure,
  checkCommonSettings,
  checkNumber,
  escapeText,
  isUnknown,
  MIN_ONLINE_RATIO_RULE,
  WAIT_MINUTES_RULE,
} from "../shared/inputs";
import * as log from "./log";

/** Arguments whose change replaces the gate: a new campaign or target is checked anew. */
const GATE_REPLACE_KEYS = ["campaign", "iotInstanceId", "region", "endpoint"] as const;
/** Echoed into the outputs, which the next diff compares; `resets` is not (it can name thousands of devices). */
const ECHOED = [...GATE_REPLACE_KEYS, "cohort", "stage", "promoted", "minOnlineRatio", "waitMinutes"] as const;
/** How many BatchGetDeviceState calls of one gate are in flight at once; the shared pacer sets the rate. */
const READERS = 8;
/** How many devices that did not come back a failure names. */
const NAMED = 10;

/** check: the rule in range; the target resolvable when the gate will read. */
export function check(olds: Props, news: Props, ctx?: ProviderContext): dynamic.CheckResult {
  const failures: CheckFailure[] = [];
  checkCommonSettings(news, failures);
  checkNumber(news, "minOnlineRatio", MIN_ONLINE_RATIO_RULE, failures);
  checkNumber(news, "waitMinutes", WAIT_MINUTES_RULE, failures);
  if (news.promoted === true && ctx) failures.push(...ctx.preflight(news));
  if (failures.length === 0 && opensNow(olds, news)) {
    // Shown by preview as well as by up: the reviewer of a promotion sees that it is gated.
    log.info(
      `${describeGate(news)}: before any device of stage ${news.stage} is reset, the devices reset by earlier stages ` +
        `are read (BatchGetDeviceState); the stage starts once ${percent(news.minOnlineRatio)} of them came back ` +
        `online, waiting up to ${news.waitMinutes} minute(s).`,
    );
  }
  return { inputs: news, failures };
}

/**
 * diff: a new campaign or target replaces (the gate checks again); a stage promoted or demoted is an update; a gate
 * that is promoted and not yet open updates, so that it checks again. Nothing else changes an open gate.
 */
export function diff(_id: string, olds: Props, news: Props): dynamic.DiffResult {
  const replaces = GATE_REPLACE_KEYS.filter((k) => changed(olds, news, k));
  const promotion = changed(olds, news, "promoted");
  const waiting = news.promoted === true && olds.passed !== true;
  return { changes: replaces.length > 0 || promotion || waiting, replaces: [...replaces], deleteBeforeReplace: false };
}

/** create: checks when the stage is promoted. */
export async function create(ctx: ProviderContext, inputs: Props): Promise<dynamic.CreateResult> {
  const id = `${inputs.campaign}:stage-${inputs.stage}:${Date.now().toString(36)}`;
  return { id, outs: await settle(ctx, {}, inputs) };
}

/** update: checks when the stage became promoted (or was promoted and the gate did not open). */
export async function update(
  ctx: ProviderContext,
  _id: string,
  olds: Props,
  news: Props,
): Promise<dynamic.UpdateResult> {
  return { outs: await settle(ctx, olds, news) };
}

/** delete: a gate only read; nothing to undo. */
export async function remove(): Promise<void> {}

/** The gate's outputs after this update: open (checked now, or earlier in the campaign) or closed. */
async function settle(ctx: ProviderContext, olds: Props, news: Props): Promise<Props> {
  const outs: Props = {};
  for (const key of ECHOED) if (news[key] !== undefined) outs[key] = news[key];
  if (news.promoted !== true) return { ...outs, passed: false };
  if (olds.passed === true && !opensNow(olds, news)) {
    return { ...outs, passed: true, ...pick(olds, ["checkedCount", "onlineCount", "openedAt"]) };
  }
  const result = await waitForReturn(ctx, news);
  return { ...outs, passed: true, ...result };
}

/** Whether this update is the one that must open the gate: promoted now, and not open in this campaign before. */
function opensNow(olds: Props, news: Props): boolean {
  return news.promoted === true && (olds.promoted !== true || olds.passed === false || changed(olds, news, "campaign"));
}

/** One device reset by an earlier stage: how to read it, and when it was reset. */
/** The group of the devices read by IotId; the others are grouped by product, `pk:<ProductKey>`. */
const BY_IOT_ID = "iotId";

interface Watched {
  readonly key: string;
  readonly resetMs: number;
}

/**
 * Reads the earlier stages' devices round by round (each round only those not yet seen back) until enough came back
 * or the wait is over. A device is back once it was seen ONLINE with a status change at or after its reset.
 */
async function waitForReturn(
  ctx: ProviderContext,
  news: Props,
): Promise<{ checkedCount: number; onlineCount: number; openedAt: string }> {
  const resets = news.resets as Record<string, string>;
  const watched: Watched[] = Object.entries(resets).map(([key, at]) => ({ key, resetMs: Date.parse(at) }));
  const ratio = news.minOnlineRatio as number;
  const required = Math.ceil(ratio * watched.length - 1e-9);
  const started = Date.now();
  const deadline = started + (news.waitMinutes as number) * 60_000;
  const back = new Set<string>();
  const iotInstanceId = typeof news.iotInstanceId === "string" ? news.iotInstanceId : undefined;
  const api = required > 0 ? ctx.api(news as { region?: string; endpoint?: string }) : undefined;
  for (let round = 1; api && back.size < required; round++) {
    const pending = watched.filter((w) => !back.has(w.key));
    await readRound(api, pending, iotInstanceId, back);
    if (back.size >= required) break;
    const now = Date.now();
    if (now >= deadline) throw closed(news, watched, back, required);
    const pause = Math.min(ctx.settings.gatePollMs, deadline - now);
    log.info(
      `${describeGate(news)}: ${back.size} of ${watched.length} devices reset by earlier stages are back online, ` +
        `${required} needed; reading again in ${(pause / 1000).toFixed(0)} s (waiting until ${new Date(deadline).toISOString()}).`,
    );
    await new Promise((resolve) => setTimeout(resolve, pause));
  }
  const openedAt = new Date().toISOString();
  log.info(
    `${describeGate(news)}: open: ${back.size} of ${watched.length} devices reset by earlier stages are back online ` +
      `(${required} needed); stage ${news.stage} starts.`,
  );
  return { checkedCount: watched.length, onlineCount: back.size, openedAt };
}

/** One round: every pending device read once, 50 per call, by product (pairs) or by IotId. */
async function readRound(
  api: IotApi,
  pending: readonly Watched[],
  iotInstanceId: string | undefined,
  back: Set<string>,
): Promise<void> {
  const calls: Array<{ query: DeviceStateQuery; byAnswer: Map<string, Watched> }> = [];
  const groups = new Map<string, Watched[]>();
  const names = new Map<Watched, string>();
  for (const w of pending) {
    const device = parseDeviceKey(w.key);
    const byIotId = device !== undefined && "iotId" in device;
    const group = byIotId ? BY_IOT_ID : `pk:${device?.productKey ?? ""}`;
    // Answers are matched by IotId, or by DeviceName within the call's product.
    names.set(w, byIotId ? device.iotId : (device?.deviceName ?? w.key));
    let list = groups.get(group);
    if (!list) groups.set(group, (list = []));
    list.push(w);
  }
  const name = (w: Watched) => names.get(w) as string;
  for (const [group, list] of groups) {
    for (let i = 0; i < list.length; i += DEVICE_STATE_BATCH) {
      const chunk = list.slice(i, i + DEVICE_STATE_BATCH);
      const byIotId = group === BY_IOT_ID;
      calls.push({
        query: byIotId
          ? { iotIds: chunk.map(name) }
          : { productKey: group.slice("pk:".length), deviceNames: chunk.map(name) },
        byAnswer: new Map(chunk.map((w) => [name(w), w])),
      });
    }
  }
  let next = 0;
  const reader = async () => {
    while (next < calls.length) {
      const call = calls[next++] as (typeof calls)[number];
      const answers = await api.batchGetDeviceState(call.query, iotInstanceId);
      for (const answer of answers) {
        const w = call.byAnswer.get(("iotIds" in call.query ? answer.iotId : answer.deviceName) ?? "");
        if (w && cameBack(answer, w.resetMs)) back.add(w.key);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(READERS, calls.length) }, reader));
}

/** ONLINE with a status change at or after the reset: the device registered again and reconnected. */
export function cameBack(answer: DeviceStatus, resetMs: number): boolean {
  return answer.status === "ONLINE" && answer.changedAt !== undefined && answer.changedAt >= resetMs;
}

/** The failure of a gate that did not open: the counts, the first devices not back, and what to do. */
function closed(news: Props, watched: readonly Watched[], back: ReadonlySet<string>, required: number): Error {
  // Sorted, so that the same devices are named in the same order by every run.
  const missing = watched
    .filter((w) => !back.has(w.key))
    .map((w) => w.key)
    .sort();
  const named =
    missing.slice(0, NAMED).join(", ") + (missing.length > NAMED ? ` and ${missing.length - NAMED} more` : "");
  return new PromotionGateError(
    `${describeGate(news)} did not open: ${back.size} of ${watched.length} devices reset by earlier stages came back ` +
      `online within ${news.waitMinutes} minute(s) (${percent(back.size / watched.length)}); ` +
      `minOnlineRatio ${news.minOnlineRatio} needs ${required}. No device of stage ${news.stage} was reset. ` +
      `Not back: ${named}. Find out why they did not register again (device logs, the IoT console), then run the ` +
      `update again to read them again, or lower promotionGate.minOnlineRatio to accept it.`,
  );
}

/** `promotion gate of stage 2 of cohort "fleet" (campaign "rotate-2026-11")`. */
function describeGate(p: Props): string {
  const campaign = isUnknown(p.campaign) ? "" : ` (campaign "${escapeText(String(p.campaign))}")`;
  return `promotion gate of stage ${p.stage} of cohort "${escapeText(String(p.cohort))}"${campaign}`;
}

function percent(ratio: unknown): string {
  return typeof ratio === "number" ? `${(ratio * 100).toFixed(1)}%` : String(ratio);
}

function pick(p: Props, keys: readonly string[]): Props {
  const out: Props = {};
  for (const k of keys) if (p[k] !== undefined) out[k] = p[k];
  return out;
}
