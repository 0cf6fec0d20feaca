/**
 * `listFleet`: the devices of a product, read from IoT Platform itself, for a cohort's `devices`. It runs in the
 * program's process (or any script) with the provider's own API client: the same stack settings, credential chain,
 * pacing and retries as the resets, loaded only when a listing is asked for, so a program that never lists loads no
 * SDK.
 */
import { runtime } from "@pulumi/pulumi";
import type { FleetDevice } from "../shared/device-key";
import { adviceFor, InputError, IotApiError, IotResetError, RetriesExhaustedError } from "../shared/errors";
import type { DevicePage, IotApi } from "../host/iot-api";

/** A device status `listFleet` can select: the `DeviceStatus` QueryDevice reports. */
export type ListedStatus = "ONLINE" | "OFFLINE" | "UNACTIVE" | "DISABLE";

const STATUSES: readonly ListedStatus[] = ["ONLINE", "OFFLINE", "UNACTIVE", "DISABLE"];

/** What `listFleet` lists. */
export interface ListFleetArgs {
  /** The ProductKey whose devices are listed. */
  readonly productKey: string;
  /** The instance ID; required by the API for a product of an instance that has one; default the public instance. */
  readonly iotInstanceId?: string;
  /** Only the devices in this status when they are listed (`ONLINE`, `OFFLINE`, `UNACTIVE`, `DISABLE`); default every status. */
  readonly status?: ListedStatus;
  /** Only the product's devices in this device group (its GroupId); default the whole product. */
  readonly groupId?: string;
  /** The region, e.g. `cn-shanghai`; default stack config `alicloud:region`, else `ALIBABA_CLOUD_REGION_ID`. */
  readonly region?: string;
  /** Override: `host[:port]`, or `http://127.0.0.1:PORT` for a local emulator (plain http only on loopback); default `iot.<region>.aliyuncs.com`. */
  readonly endpoint?: string;
  /** Receives the progress line of a listing that runs long (every 5 s, and once at its end); default stderr. */
  readonly onProgress?: (line: string) => void;
  /** Reads a stack setting by its full key (`alicloud:region`); default the Pulumi program's stack config. */
  readonly config?: (key: string) => string | undefined;
}

/** A listing IoT Platform refused or that could not finish; the message names the product, the Code and RequestId. */
export class FleetListingError extends IotResetError {}

/** Devices per page: the most QueryDevice and the group listing return at once. */
export const LIST_PAGE_SIZE = 50;

/** How often a running listing reports its progress. */
const PROGRESS_EVERY_MS = 5_000;

/**
 * Lists the devices of `productKey` (of one device group with `groupId`, in one status with `status`) as IoT
 * Platform has them, sorted by device key, each as `{ productKey, deviceName }`. Pages are read with QueryDevice
 * (`NextToken` from the second page on, so a listing past the 10,000th device goes on) or, with `groupId`,
 * QueryDeviceListByDeviceGroup; each call is paced within the account's quota for it and retried like a reset's
 * calls. A device created while the listing runs may or may not be in it: list again, or compare with a snapshot
 * (`checkFleet`).
 */
export async function listFleet(args: ListFleetArgs): Promise<FleetDevice[]> {
  checkListArgs(args);
  const api = await apiFor(args);
  const progress = new Progress(args);
  let listed: ListedDevice[];
  try {
    listed =
      args.groupId === undefined ? await productDevices(api, args, progress) : await groupDevices(api, args, progress);
  } catch (err) {
    throw listingError(args, err);
  }
  progress.done(listed.length);
  const seen = new Set<string>();
  for (const d of listed) {
    if (seen.has(d.iotId)) {
      throw new FleetListingError(
        `listFleet: the listing of ${describeListing(args)} returned device "${d.productKey}/${d.deviceName}" twice, ` +
          `so its pages were not consistent; list again.`,
      );
    }
    seen.add(d.iotId);
  }
  return listed
    .filter((d) => args.status === undefined || d.status === args.status)
    .map((d) => ({ productKey: d.productKey, deviceName: d.deviceName }))
    .sort((a, b) => (a.deviceName < b.deviceName ? -1 : a.deviceName > b.deviceName ? 1 : 0));
}

interface ListedDevice {
  readonly productKey: string;
  readonly deviceName: string;
  readonly iotId: string;
  readonly status?: string;
}

function checkListArgs(args: ListFleetArgs): void {
  if (typeof args.productKey !== "string" || !/^[A-Za-z0-9_-]{1,64}$/.test(args.productKey))
    throw new InputError(
      `listFleet: \`productKey\` must be a ProductKey (1-64 letters, digits, _ or -), got ${JSON.stringify(args.productKey)}`,
    );
  if (args.status !== undefined && !STATUSES.includes(args.status))
    throw new InputError(
      `listFleet: \`status\` must be one of ${STATUSES.join(", ")}, got ${JSON.stringify(args.status)}`,
    );
  if (args.groupId !== undefined && (typeof args.groupId !== "string" || args.groupId === ""))
    throw new InputError(`listFleet: \`groupId\` must be a non-empty GroupId, got ${JSON.stringify(args.groupId)}`);
}

let shared: import("../host/provider-context").ProviderContext | undefined;

/** The provider's own client for the listing's target, with the stack's settings and credential chain. */
async function apiFor(args: ListFleetArgs): Promise<IotApi> {
  // Loaded here, not at the top: the host's modules bring the SDK, which a program that never lists does not need.
  const { ProviderContext } = await import("../host/provider-context");
  // One context for the process: its pacers are the account's quotas, so listings run together share them.
  shared ??= new ProviderContext();
  const ctx = shared;
  ctx.configure(args.config ?? ((key) => runtime.getConfig(key)));
  return ctx.api({
    ...(args.region !== undefined ? { region: args.region } : {}),
    ...(args.endpoint !== undefined ? { endpoint: args.endpoint } : {}),
  });
}

/** Every device of the product, page after page of QueryDevice, following each page's NextToken. */
async function productDevices(api: IotApi, args: ListFleetArgs, progress: Progress): Promise<ListedDevice[]> {
  const devices: ListedDevice[] = [];
  let nextToken: string | undefined;
  for (let currentPage = 1; ; currentPage++) {
    progress.page = currentPage;
    const page: DevicePage = await api.queryDevicePage({
      productKey: args.productKey,
      currentPage,
      pageSize: LIST_PAGE_SIZE,
      ...(args.iotInstanceId !== undefined ? { iotInstanceId: args.iotInstanceId } : {}),
      ...(nextToken !== undefined ? { nextToken } : {}),
    });
    devices.push(...page.devices);
    progress.tick(devices.length, page.total);
    // A page with a token has a next one; without, the next page by number, while the total says there is one.
    const more =
      page.nextToken !== undefined ||
      (page.devices.length === LIST_PAGE_SIZE && currentPage * LIST_PAGE_SIZE < page.total);
    if (!more || page.devices.length === 0) return devices;
    nextToken = page.nextToken;
  }
}

/** The group's members of the product; with a status, their states read with BatchGetDeviceState. */
async function groupDevices(api: IotApi, args: ListFleetArgs, progress: Progress): Promise<ListedDevice[]> {
  const groupId = args.groupId as string;
  const members: ListedDevice[] = [];
  for (let currentPage = 1; ; currentPage++) {
    progress.page = currentPage;
    const page = await api.deviceGroupPage({
      groupId,
      currentPage,
      pageSize: LIST_PAGE_SIZE,
      ...(args.iotInstanceId !== undefined ? { iotInstanceId: args.iotInstanceId } : {}),
    });
    members.push(...page.devices.filter((d) => d.productKey === args.productKey));
    progress.tick(members.length, page.total);
    if (page.devices.length < LIST_PAGE_SIZE || currentPage * LIST_PAGE_SIZE >= page.total) break;
  }
  if (args.status === undefined) return members;
  const status = new Map<string, string>();
  for (let i = 0; i < members.length; i += 50) {
    const iotIds = members.slice(i, i + 50).map((d) => d.iotId);
    for (const s of await api.batchGetDeviceState({ iotIds }, args.iotInstanceId)) {
      if (s.iotId !== undefined) status.set(s.iotId, s.status);
    }
  }
  return members.map((d) => ({ ...d, ...(status.has(d.iotId) ? { status: status.get(d.iotId) } : {}) }));
}

function describeListing(args: ListFleetArgs): string {
  const where = args.iotInstanceId !== undefined ? ` in instance "${args.iotInstanceId}"` : "";
  const group = args.groupId !== undefined ? ` in device group "${args.groupId}"` : "";
  return `product "${args.productKey}"${where}${group}`;
}

/** What to do about the Codes a listing meets, before the advice every call shares. */
const LISTING_ADVICE: ReadonlyArray<[RegExp, string]> = [
  [/NotExistedProduct/i, "Check productKey, and pass iotInstanceId for a product of an instance that has an ID."],
  [/NotExistedGroup/i, "Check groupId (the group's GroupId, not its name) and iotInstanceId."],
  [/InvalidPageParams/i, "The service refused a page of the listing; list again, and report it if it persists."],
  [
    /Forbidden|NoPermission|NotAuthorized|PermissionDeny/i,
    "Grant the RAM identity iot:QueryDevice (and iot:QueryDeviceListByDeviceGroup, iot:BatchGetDeviceState for a group).",
  ],
  [
    /Throttling/i,
    "The account's quota for listings was used up by another caller; list again later, or lower iotReset:listQps.",
  ],
];

/** The error a user sees when a page of the listing failed: the product, the page, the Code, the RequestId, what to do. */
function listingError(args: ListFleetArgs, err: unknown): unknown {
  const page = `(${err instanceof IotApiError || err instanceof RetriesExhaustedError ? err.action : "listing"})`;
  if (err instanceof IotApiError) {
    const advice = LISTING_ADVICE.find(([re]) => re.test(err.code))?.[1] ?? adviceFor(err.code);
    return new FleetListingError(
      `listFleet: listing ${describeListing(args)} failed ${page}: ${err.code}: ${err.apiMessage} ` +
        `(RequestId: ${err.requestId ?? "none"}). ${advice}`,
    );
  }
  if (err instanceof RetriesExhaustedError) {
    return new FleetListingError(
      `listFleet: listing ${describeListing(args)} did not finish ${page}: a page failed ${err.attempts} times over ` +
        `${(err.elapsedMs / 1000).toFixed(1)} s; last failure: ${err.lastFailure}. Nothing was reset; list again ` +
        `once the service recovers.`,
    );
  }
  return err;
}

/** The progress line of a long listing: how many devices so far, of how many, after how long. */
class Progress {
  page = 0;
  private readonly started = Date.now();
  private lastAt = this.started;
  private lastLine: string | undefined;
  private readonly write: (line: string) => void;

  constructor(private readonly args: ListFleetArgs) {
    this.write = args.onProgress ?? ((line) => process.stderr.write(`${line}\n`));
  }

  tick(listed: number, total: number): void {
    this.lastLine = this.line(`${listed.toLocaleString("en-US")} of ${total.toLocaleString("en-US")} devices listed`);
    const now = Date.now();
    if (now - this.lastAt < PROGRESS_EVERY_MS) return;
    this.lastAt = now;
    this.write(this.lastLine);
  }

  /** Reports the end, only for a listing that reported its progress before. */
  done(listed: number): void {
    if (this.lastAt === this.started) return;
    this.write(this.line(`done: ${listed.toLocaleString("en-US")} devices listed`));
  }

  private line(what: string): string {
    const seconds = Math.round((Date.now() - this.started) / 1000);
    return `listFleet: ${describeListing(this.args)}: ${what} (${this.page} pages, ${seconds} s)`;
  }
}
