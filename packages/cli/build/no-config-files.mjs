// Stand-in for the `yaml`, `toml` and `ini` parsers that `@effect/cli` bundles for config-file
// options. This CLI has no config-file options, so scripts/build.mjs aliases those packages here and
// the bundle stays small (faster `--help`).
export const parse = () => {
  throw new Error("config-file formats are not supported by agent-marketplace")
}
export default { parse }
