/**
 * The merge's step (`npm run apply`, on the main branch): previews, then updates. The preview runs the program first,
 * so that a selection that differs from the committed review (a cohort refuses it) stops the update before anything
 * is declared, let alone sent; the Automation API's `up` alone would skip the preview.
 */
import { openStack, previewPlan, run } from "./stack";

run(async () => {
  const stack = await openStack();
  await previewPlan(stack);
  const result = await stack.up({ onOutput: (text) => process.stdout.write(text) });
  const outputs = Object.fromEntries(Object.entries(result.outputs).map(([key, o]) => [key, o.value]));
  console.log(`Applied: ${JSON.stringify(outputs)}`);
});
