/**
 * The IoT Platform state the emulator serves: instances, products, devices and device jobs.
 *
 * Semantics follow the ResetThing documentation (help.aliyun.com/document_detail/155680):
 * - a reset sets the dynamic-registration status back to unregistered and leaves activation alone;
 * - on a gateway it also deletes the topology: at once for up to 2,000 sub-devices, otherwise through an
 *   asynchronous device job whose JobId the call returns and QueryJob reports.
 */
import { createHash, randomBytes } from "node:crypto";
import { comeBackPlan, type ComeBackOptions } from "./comeback";
import * as errors from "./errors";
import { FleetError, generatedNames, type FleetDevice, type FleetFile, type FleetInstance } from "./fleet";

/** Above this many sub-devices ResetThing deletes a gateway's topology through an asynchronous job. */
export const SYNC_TOPOLOGY_LIMIT = 2000;

/** A device as the emulator holds it (a copy: changing it changes nothing). */
export interface DeviceState {
  /** The ProductKey of the device's product. */
  readonly productKey: string;
  /** The device's name within its product. */
  readonly deviceName: string;
  /** The device's IotId, unique across the account. */
  readonly iotId: string;
  /** The ID of the instance holding the device; undefined for the public instance. */
  readonly iotInstanceId?: string;
  /** Whether the product uses dynamic registration (unique-certificate-per-product). */
  readonly dynamicRegistration: boolean;
  /** The dynamic-registration status: true once the device registered, false after a reset. */
  readonly registered: boolean;
  /** The activation status, which ResetThing never changes. */
  readonly activated: boolean;
  /** Whether the device is a gateway. */
  readonly gateway: boolean;
  /** How many sub-devices the gateway's topology holds (0 for a device that is not a gateway). */
  readonly subDeviceCount: number;
  /** How many ResetThing calls succeeded for this device. */
  readonly resetCount: number;
  /** The connection status as BatchGetDeviceState reports it (UNACTIVE while not activated). */
  readonly status: DeviceStatus;
  /** Epoch ms of the last status change (creation until the first change). */
  readonly statusChangedAt: number;
  /** Epoch ms when the device was last ONLINE (went online); absent for a device never online. */
  readonly lastOnlineAt?: number;
  /** The IDs of the device groups it belongs to; absent when none. */
  readonly groups?: readonly string[];
}

/** A device's connection status, as the status APIs report it. */
export type DeviceStatus = "ONLINE" | "OFFLINE" | "UNACTIVE" | "DISABLE";

/** A status a test may set: UNACTIVE follows from activation and cannot be set. */
export type SettableStatus = "ONLINE" | "OFFLINE" | "DISABLE";

/** How a device that went OFFLINE through a reset is coming back. */
export interface ComeBackRecord {
  /** The ProductKey of the device. */
  readonly productKey: string;
  /** The device's name. */
  readonly deviceName: string;
  /** The device's IotId. */
  readonly iotId: string;
  /** The device's instance; absent for the public instance. */
  readonly iotInstanceId?: string;
  /** Epoch ms of the last successful reset that took the device OFFLINE. */
  readonly resetAt: number;
  /** `back`: ONLINE again; `pending`: will be at `onlineAt`; `never`: the draw says it never comes back. */
  readonly outcome: "back" | "pending" | "never";
  /** Epoch ms when it went (`back`) or will go (`pending`) ONLINE; absent for `never`. */
  readonly onlineAt?: number;
}

/** Names a device: by IotId, or by ProductKey + DeviceName within an instance (the public one when no ID). */
export type DeviceRef =
  | {
      /** The device's ProductKey. */
      readonly productKey: string;
      /** The device's DeviceName. */
      readonly deviceName: string;
      /** The IoT instance; absent for the public instance. */
      readonly iotInstanceId?: string;
    }
  | {
      /** The device's IotId. */
      readonly iotId: string;
    };

/** The status of a device job, as QueryJob reports it. */
export type JobStatus = "IN_PROGRESS" | "COMPLETED" | "FAILED" | "TIMEOUT";

/** A device job that deletes a large gateway's topology. */
export interface JobState {
  /** The job's ID, as ResetThing returned it. */
  readonly jobId: string;
  /** The instance the job runs in; undefined for the public instance. */
  readonly iotInstanceId?: string;
  /** The IotId of the gateway whose topology the job deletes. */
  readonly iotId: string;
  /** The job's current status. */
  readonly status: JobStatus;
  /** How many sub-devices the job detaches. */
  readonly total: number;
  /** Epoch ms when the job was created. */
  readonly createdAt: number;
  /** Epoch ms when the job leaves IN_PROGRESS. */
  readonly endsAt: number;
}

/** A device's mutable record. */
interface Device {
  productKey: string;
  deviceName: string;
  iotId: string;
  iotInstanceId: string | undefined;
  registered: boolean;
  activated: boolean;
  gateway: boolean;
  subDeviceCount: number;
  resetCount: number;
  createdAt: number;
  product: Product;
  /** Stored connection status; reported as UNACTIVE while not activated (unless DISABLE). */
  status: SettableStatus;
  /** Epoch ms of the last status change. */
  statusAt: number;
  /** Epoch ms of the last time the device went ONLINE; NaN when never. */
  lastOnlineAt: number;
  /** The last reset that took the device OFFLINE and its return; undefined (one empty slot) for a device never reset. */
  back: ComeBackTrace | undefined;
  /** The device groups it belongs to (one shared empty array for most devices). */
  groups: readonly string[];
}

/** Kept only for devices a reset took OFFLINE, so that a fleet of 100,000 that was never reset stays small. */
interface ComeBackTrace {
  /** Epoch ms of the reset. */
  resetAt: number;
  /** Epoch ms when the device goes ONLINE again; Infinity when no return is pending. */
  returnAt: number;
  /** Whether the draw said the device never comes back. */
  never: boolean;
  /** Epoch ms when the device came back; NaN until it has. */
  backAt: number;
}

interface Product {
  productKey: string;
  productName: string;
  dynamicRegistration: boolean;
  devices: Map<string, Device>;
  /** The devices in creation order: the listing APIs page through it from the newest. */
  order: Device[];
}

interface Instance {
  id: string | undefined;
  products: Map<string, Product>;
  /** The members of each device group, in the order they joined. */
  groups: Map<string, Device[]>;
}

interface Job {
  jobId: string;
  iotInstanceId: string | undefined;
  device: Device;
  total: number;
  createdAt: number;
  endsAt: number;
  finalStatus: "COMPLETED" | "FAILED" | "TIMEOUT";
  settled: boolean;
}

/** What the caller gave to name a device in an API call. */
export interface IdentityParams {
  /** The `IotInstanceId` parameter, if any. */
  readonly iotInstanceId?: string;
  /** The `IotId` parameter, if any. */
  readonly iotId?: string;
  /** The `ProductKey` parameter, if any. */
  readonly productKey?: string;
  /** The `DeviceName` parameter, if any. */
  readonly deviceName?: string;
}

/** Alphabet of IotIds: letters and digits only, like the real ones. */
const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/**
 * The IotId the emulator gives a device that the fleet did not give one: a stable 26-character string of
 * letters and digits derived from (iotInstanceId, productKey, deviceName), shaped like real IotIds
 * (`Q7uOhVRdZRRlDnTLv****00100`).
 */
export function iotIdFor(productKey: string, deviceName: string, iotInstanceId?: string): string {
  const digest = createHash("sha256")
    .update(`${iotInstanceId ?? ""}\u0000${productKey}\u0000${deviceName}`)
    .digest();
  let id = "";
  for (let i = 0; i < 21; i++) id += BASE62[(digest[i] ?? 0) % 62];
  return `${id}00100`;
}

const instanceKey = (id: string | undefined): string => id ?? "";

/** The groups of a device that belongs to none: shared, so 100,000 such devices cost no array each. */
const NO_GROUPS: readonly string[] = Object.freeze([]);

/** A page of a listing: the IotIds, newest first, and where the next page starts (undefined: none). */
export interface ListingPage {
  /** The devices of the page, by IotId. */
  readonly iotIds: string[];
  /** How many devices the whole listing has. */
  readonly total: number;
  /** The position (in creation order, counting down) of the first device of the next page; undefined at the end. */
  readonly next: number | undefined;
}

/** The whole account: instances, their products and devices, device jobs and scripted device failures. */
export class Registry {
  private readonly instances = new Map<string, Instance>();
  private readonly byIotId = new Map<string, Device>();
  private readonly jobs = new Map<string, Job>();
  private readonly pendingJobs = new Set<Job>();
  private readonly nextJobOutcomes: Array<"FAILED" | "TIMEOUT"> = [];
  private readonly deviceFailures = new Map<string, errors.BusinessError>();
  private resets = 0;

  /**
   * @param jobDurationMs how long a topology job stays IN_PROGRESS.
   * @param clock the emulator's clock (epoch ms): device creation and status reads follow it.
   * @param comeBack how devices come back after a reset (validated by the caller).
   */
  constructor(
    public jobDurationMs: number,
    private readonly clock: () => number = Date.now,
    public comeBack: ComeBackOptions = {},
  ) {
    // The public instance always exists: it has no ID, and callers address it by leaving IotInstanceId out.
    this.ensureInstance(undefined);
  }

  /** Creates the instance if missing (undefined: the public instance). */
  ensureInstance(iotInstanceId: string | undefined): void {
    const key = instanceKey(iotInstanceId);
    if (!this.instances.has(key))
      this.instances.set(key, { id: iotInstanceId, products: new Map(), groups: new Map() });
  }

  /** Creates the product if missing; returns whether it uses dynamic registration. */
  ensureProduct(
    iotInstanceId: string | undefined,
    productKey: string,
    opts: { dynamicRegistration?: boolean; productName?: string } = {},
  ): void {
    this.ensureInstance(iotInstanceId);
    const instance = this.instances.get(instanceKey(iotInstanceId));
    if (!instance || instance.products.has(productKey)) return;
    instance.products.set(productKey, {
      productKey,
      productName: opts.productName ?? productKey,
      dynamicRegistration: opts.dynamicRegistration ?? true,
      devices: new Map(),
      order: [],
    });
  }

  /** Adds a device to an existing product; throws when the name or IotId is taken. */
  addDevice(iotInstanceId: string | undefined, productKey: string, spec: FleetDevice): DeviceState {
    const product = this.instances.get(instanceKey(iotInstanceId))?.products.get(productKey);
    if (!product) throw new Error(`no product ${productKey} in ${describeInstance(iotInstanceId)}`);
    if (product.devices.has(spec.deviceName)) {
      throw new Error(`device ${productKey}/${spec.deviceName} already exists in ${describeInstance(iotInstanceId)}`);
    }
    const iotId = spec.iotId ?? iotIdFor(productKey, spec.deviceName, iotInstanceId);
    if (this.byIotId.has(iotId)) throw new Error(`IotId ${iotId} is already used by another device`);
    const gateway = spec.gateway ?? false;
    const activated = spec.activated ?? true;
    const createdAt = this.clock();
    const status = spec.status ?? (activated ? "ONLINE" : "OFFLINE");
    const device: Device = {
      productKey,
      deviceName: spec.deviceName,
      iotId,
      iotInstanceId,
      // A device of a dynamic-registration product in a fleet has, by default, registered already: that is
      // the state ResetThing exists to undo.
      registered: spec.registered ?? product.dynamicRegistration,
      activated,
      gateway,
      subDeviceCount: gateway ? (spec.subDeviceCount ?? 0) : 0,
      resetCount: 0,
      createdAt,
      product,
      status,
      statusAt: createdAt,
      // An activated device has connected at least once; the fleet does not say when, so: at creation.
      lastOnlineAt: activated ? createdAt : NaN,
      back: undefined,
      groups: spec.groups && spec.groups.length > 0 ? [...spec.groups] : NO_GROUPS,
    };
    product.devices.set(spec.deviceName, device);
    product.order.push(device);
    this.byIotId.set(iotId, device);
    const instance = this.instances.get(instanceKey(iotInstanceId));
    for (const groupId of device.groups) {
      const members = instance?.groups.get(groupId) ?? [];
      if (members.length === 0) instance?.groups.set(groupId, members);
      members.push(device);
    }
    return snapshot(device);
  }

  /** Finds a device by a test's reference (no instance: the public instance), its status as of now. */
  find(ref: DeviceRef): DeviceState | undefined {
    const device = this.lookup(ref);
    return device ? snapshot(comeBackDue(device, this.clock())) : undefined;
  }

  private lookup(ref: DeviceRef): Device | undefined {
    if ("iotId" in ref) return this.byIotId.get(ref.iotId);
    return this.instances
      .get(instanceKey(ref.iotInstanceId))
      ?.products.get(ref.productKey)
      ?.devices.get(ref.deviceName);
  }

  /** Number of devices across all instances. */
  deviceCount(): number {
    return this.byIotId.size;
  }

  /** Successful resets across all devices. */
  totalResets(): number {
    return this.resets;
  }

  /**
   * Resolves the device an API call names, with the errors the service gives:
   * an unknown IotInstanceId is iot.system.InstanceNotFound; the IotId, when given, wins over the pair;
   * a device of an instance with an ID is not found unless that ID is passed.
   */
  resolve(params: IdentityParams): string {
    return this.resolveRecord(params).iotId;
  }

  private resolveRecord(params: IdentityParams): Device {
    const instance = this.instances.get(instanceKey(params.iotInstanceId || undefined));
    if (!instance) throw errors.instanceNotFound();
    if (params.iotId) {
      const device = this.byIotId.get(params.iotId);
      if (!device || device.iotInstanceId !== instance.id) throw errors.invalidIotId();
      return device;
    }
    if (!params.productKey || !params.deviceName) throw errors.invalidFormattedParameter();
    const device = instance.products.get(params.productKey)?.devices.get(params.deviceName);
    if (!device) throw errors.notExistedDevice();
    return device;
  }

  /** A resolved device as the API handlers read it at `now`: its state, product name and creation time. */
  view(
    iotId: string,
    now: number = this.clock(),
  ): (DeviceState & { readonly productName: string; readonly createdAt: number }) | undefined {
    const device = this.byIotId.get(iotId);
    return device
      ? { ...snapshot(comeBackDue(device, now)), productName: device.product.productName, createdAt: device.createdAt }
      : undefined;
  }

  /**
   * Resolves a list of devices for a batch call, all-or-nothing: the first unknown one throws the error a
   * single-device call would give (iot.device.NotExistedDevice / iot.device.InvalidIoTId).
   */
  resolveAll(iotInstanceId: string | undefined, refs: ReadonlyArray<Omit<IdentityParams, "iotInstanceId">>): string[] {
    return refs.map((r) => this.resolve({ ...r, ...(iotInstanceId !== undefined ? { iotInstanceId } : {}) }));
  }

  /** The devices of one product that exist, in the order asked, skipping names the product does not have. */
  existingInProduct(iotInstanceId: string | undefined, productKey: string, deviceNames: readonly string[]): string[] {
    const instance = this.instances.get(instanceKey(iotInstanceId));
    if (!instance) throw errors.instanceNotFound();
    const product = instance.products.get(productKey);
    if (!product) throw errors.notExistedProduct();
    const ids: string[] = [];
    for (const name of deviceNames) {
      const d = product.devices.get(name);
      if (d) ids.push(d.iotId);
    }
    return ids;
  }

  /**
   * A page of a product's devices, newest first as QueryDevice lists them (the reference: "sorted by creation time
   * in descending order"). `from` is a position in creation order counting down (a NextToken's cursor; devices
   * created after the listing began sit above it, so they never shift a page), or undefined for `offset` devices
   * below the newest.
   */
  productPage(
    iotInstanceId: string | undefined,
    productKey: string,
    at: { readonly from: number } | { readonly offset: number },
    size: number,
  ): ListingPage {
    const instance = this.instances.get(instanceKey(iotInstanceId));
    if (!instance) throw errors.instanceNotFound();
    const product = instance.products.get(productKey);
    if (!product) throw errors.notExistedProduct();
    const order = product.order;
    const start = "from" in at ? Math.min(at.from, order.length - 1) : order.length - 1 - at.offset;
    const iotIds: string[] = [];
    for (let i = start; i >= 0 && iotIds.length < size; i--) iotIds.push((order[i] as Device).iotId);
    const next = start - iotIds.length;
    return { iotIds, total: order.length, next: next >= 0 ? next : undefined };
  }

  /** Every device of an instance (one product, when given), in creation order; throws as the listing APIs do. */
  devicesOf(iotInstanceId: string | undefined, productKey: string | undefined): readonly { iotId: string }[] {
    const instance = this.instances.get(instanceKey(iotInstanceId));
    if (!instance) throw errors.instanceNotFound();
    if (productKey === undefined) return [...instance.products.values()].flatMap((p) => p.order);
    const product = instance.products.get(productKey);
    if (!product) throw errors.notExistedProduct();
    return product.order;
  }

  /** The members of a device group, in the order they joined; throws when the instance has no such group. */
  groupMembers(iotInstanceId: string | undefined, groupId: string): readonly { iotId: string }[] {
    const instance = this.instances.get(instanceKey(iotInstanceId));
    if (!instance) throw errors.instanceNotFound();
    const members = instance.groups.get(groupId);
    if (!members) throw errors.notExistedGroup();
    return members;
  }

  /** Sets a device's status at `now` (a test's doing); a pending return is cancelled. */
  setStatus(ref: DeviceRef, status: SettableStatus, now: number = this.clock()): void {
    const device = this.lookup(ref);
    if (!device) throw new Error(`setStatus: no such device ${describeRef(ref)}`);
    comeBackDue(device, now);
    if (device.back) device.back.returnAt = Infinity;
    if (device.status === status) return;
    device.status = status;
    device.statusAt = now;
    if (status === "ONLINE") device.lastOnlineAt = now;
  }

  /** Every device a reset took OFFLINE, with how it is coming back as of `now`, optionally one product only. */
  comeBacks(now: number = this.clock(), filter: { productKey?: string } = {}): ComeBackRecord[] {
    const out: ComeBackRecord[] = [];
    for (const d of this.byIotId.values()) {
      if (!d.back) continue;
      if (filter.productKey !== undefined && d.productKey !== filter.productKey) continue;
      comeBackDue(d, now);
      const { resetAt, returnAt, never, backAt } = d.back;
      const base = {
        productKey: d.productKey,
        deviceName: d.deviceName,
        iotId: d.iotId,
        ...(d.iotInstanceId !== undefined ? { iotInstanceId: d.iotInstanceId } : {}),
        resetAt,
      };
      if (never) out.push({ ...base, outcome: "never" });
      else if (!Number.isNaN(backAt)) out.push({ ...base, outcome: "back", onlineAt: backAt });
      else if (returnAt !== Infinity) out.push({ ...base, outcome: "pending", onlineAt: returnAt });
    }
    return out;
  }

  /** Looks a product up for RegisterDevice. */
  product(iotInstanceId: string | undefined, productKey: string): { dynamicRegistration: boolean } | undefined {
    const instance = this.instances.get(instanceKey(iotInstanceId));
    if (!instance) throw errors.instanceNotFound();
    return instance.products.get(productKey);
  }

  /** Whether the instance exists (undefined: the public instance, which always does). */
  hasInstance(iotInstanceId: string | undefined): boolean {
    return this.instances.has(instanceKey(iotInstanceId));
  }

  /** Makes every ResetThing of this device answer the given business error, until healed. */
  failDevice(ref: DeviceRef, failure: errors.BusinessError): void {
    const device = this.lookup(ref);
    if (!device) throw new Error(`failDevice: no such device ${describeRef(ref)}`);
    this.deviceFailures.set(device.iotId, failure);
  }

  /** Removes a scripted failure set by failDevice. */
  healDevice(ref: DeviceRef): void {
    const device = this.lookup(ref);
    if (device) this.deviceFailures.delete(device.iotId);
  }

  /**
   * Applies ResetThing to a resolved device: registration reset (activation kept), topology removed at
   * once up to 2,000 sub-devices, otherwise through a job whose ID is returned.
   */
  reset(iotId: string, now: number): { jobId?: string } {
    const device = this.byIotId.get(iotId);
    if (!device) throw errors.invalidIotId();
    const failure = this.deviceFailures.get(device.iotId);
    if (failure) throw failure;
    // A product without dynamic registration has no dynamic-registration status to reset. The API
    // reference documents no error for this case, so the emulator answers success and changes nothing
    // about registration, which keeps a wave of resets over a mixed fleet going; tests that need a
    // rejection script one with failDevice.
    if (device.product.dynamicRegistration) {
      device.registered = false;
      this.dropConnection(device, now);
    }
    device.resetCount += 1;
    this.resets += 1;
    if (!device.gateway || device.subDeviceCount === 0) return {};
    if (device.subDeviceCount <= SYNC_TOPOLOGY_LIMIT) {
      device.subDeviceCount = 0;
      return {};
    }
    const job: Job = {
      jobId: randomBytes(16).toString("hex"),
      iotInstanceId: device.iotInstanceId,
      device,
      total: device.subDeviceCount,
      createdAt: now,
      endsAt: now + this.jobDurationMs,
      finalStatus: this.nextJobOutcomes.shift() ?? "COMPLETED",
      settled: false,
    };
    this.jobs.set(job.jobId, job);
    this.pendingJobs.add(job);
    return { jobId: job.jobId };
  }

  /**
   * A reset registration drops the device's connection: an activated, enabled device goes OFFLINE and, as the
   * come-back draw says, returns ONLINE after a delay or never. A device not activated stays UNACTIVE, a
   * disabled one DISABLE: neither can connect.
   */
  private dropConnection(device: Device, now: number): void {
    comeBackDue(device, now);
    if (!device.activated || device.status === "DISABLE") return;
    if (device.status !== "OFFLINE") {
      device.status = "OFFLINE";
      device.statusAt = now;
    }
    const plan = comeBackPlan(this.comeBack, device);
    device.back = {
      resetAt: now,
      returnAt: plan.never ? Infinity : now + plan.delayMs,
      never: plan.never,
      backAt: NaN,
    };
  }

  /** Makes the next topology job end in FAILED or TIMEOUT instead of COMPLETED. */
  failNextJob(status: "FAILED" | "TIMEOUT"): void {
    this.nextJobOutcomes.push(status);
  }

  /** Makes a job that is still IN_PROGRESS end in FAILED or TIMEOUT; throws for an unknown or ended job. */
  failJob(jobId: string, status: "FAILED" | "TIMEOUT"): void {
    const job = this.jobs.get(jobId);
    if (!job) throw new Error(`failJob: no job ${jobId}`);
    if (job.settled) throw new Error(`failJob: job ${jobId} has already ended`);
    job.finalStatus = status;
  }

  /** Ends the jobs whose time is up; a completed job detaches the gateway's sub-devices. */
  settle(now: number): void {
    for (const job of this.pendingJobs) {
      if (now < job.endsAt) continue;
      job.settled = true;
      this.pendingJobs.delete(job);
      if (job.finalStatus === "COMPLETED") job.device.subDeviceCount = 0;
    }
  }

  /** A job as QueryJob sees it from the given instance; throws iot.system.IllegalRequest for an unknown JobId. */
  job(
    jobId: string,
    iotInstanceId: string | undefined,
    now: number,
  ): JobState & { readonly deviceName: string; readonly productKey: string } {
    if (!this.hasInstance(iotInstanceId)) throw errors.instanceNotFound();
    this.settle(now);
    const job = this.jobs.get(jobId);
    if (!job || job.iotInstanceId !== iotInstanceId) throw errors.illegalRequest();
    return {
      jobId: job.jobId,
      ...(job.iotInstanceId !== undefined ? { iotInstanceId: job.iotInstanceId } : {}),
      iotId: job.device.iotId,
      productKey: job.device.productKey,
      deviceName: job.device.deviceName,
      status: job.settled ? job.finalStatus : "IN_PROGRESS",
      total: job.total,
      createdAt: job.createdAt,
      endsAt: job.endsAt,
    };
  }

  /** Every job, for inspection. */
  allJobs(now: number): JobState[] {
    this.settle(now);
    return [...this.jobs.values()].map((j) => this.job(j.jobId, j.iotInstanceId, now));
  }
}

/** Applies a return that is due by `now` (lazily: no timer per device, so fleets of 100,000 cost nothing idle). */
function comeBackDue(d: Device, now: number): Device {
  const back = d.back;
  if (back && back.returnAt <= now) {
    d.status = "ONLINE";
    d.statusAt = back.returnAt;
    d.lastOnlineAt = back.returnAt;
    back.backAt = back.returnAt;
    back.returnAt = Infinity;
  }
  return d;
}

/** The status the APIs report: a device never activated is UNACTIVE unless disabled. */
function reportedStatus(d: Device): DeviceStatus {
  return d.activated || d.status === "DISABLE" ? d.status : "UNACTIVE";
}

function snapshot(d: Device): DeviceState {
  return {
    productKey: d.productKey,
    deviceName: d.deviceName,
    iotId: d.iotId,
    ...(d.iotInstanceId !== undefined ? { iotInstanceId: d.iotInstanceId } : {}),
    dynamicRegistration: d.product.dynamicRegistration,
    registered: d.registered,
    activated: d.activated,
    gateway: d.gateway,
    subDeviceCount: d.subDeviceCount,
    resetCount: d.resetCount,
    status: reportedStatus(d),
    statusChangedAt: d.statusAt,
    ...(Number.isNaN(d.lastOnlineAt) ? {} : { lastOnlineAt: d.lastOnlineAt }),
    ...(d.groups.length > 0 ? { groups: [...d.groups] } : {}),
  };
}

function describeInstance(id: string | undefined): string {
  return id === undefined ? "the public instance" : `instance ${id}`;
}

function describeRef(ref: DeviceRef): string {
  return "iotId" in ref
    ? `IotId ${ref.iotId}`
    : `${ref.productKey}/${ref.deviceName} in ${describeInstance(ref.iotInstanceId)}`;
}

/** Loads a validated fleet into the registry; a duplicate device or IotId is a FleetError. */
export function applyFleet(registry: Registry, fleet: FleetFile, source = "fleet"): void {
  const instances: FleetInstance[] = [...(fleet.instances ?? [])];
  if (fleet.products) instances.push({ products: fleet.products });
  for (const inst of instances) {
    const id = inst.iotInstanceId;
    registry.ensureInstance(id);
    for (const product of inst.products) {
      registry.ensureProduct(id, product.productKey, {
        ...(product.dynamicRegistration !== undefined ? { dynamicRegistration: product.dynamicRegistration } : {}),
        ...(product.productName !== undefined ? { productName: product.productName } : {}),
      });
      try {
        for (const device of product.devices ?? []) registry.addDevice(id, product.productKey, device);
        const gens =
          product.generate === undefined ? [] : Array.isArray(product.generate) ? product.generate : [product.generate];
        for (const gen of gens) {
          for (const deviceName of generatedNames(gen)) {
            registry.addDevice(id, product.productKey, {
              deviceName,
              ...(gen.registered !== undefined ? { registered: gen.registered } : {}),
              ...(gen.activated !== undefined ? { activated: gen.activated } : {}),
              ...(gen.status !== undefined ? { status: gen.status } : {}),
              ...(gen.groups !== undefined ? { groups: gen.groups } : {}),
            });
          }
        }
      } catch (err) {
        if (err instanceof FleetError) throw err;
        throw new FleetError(`${source}: ${(err as Error).message}`);
      }
    }
  }
}
