// The folder's program, for `pulumi preview` / `pulumi up` with the Pulumi CLI; the pipeline's scripts run the same.
import { program } from "./program";

export = program;
