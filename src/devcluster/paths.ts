import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

/** Cache root outside the repo: built binaries, generated CRDs, the persistent dev cluster. */
export const cacheRoot = (): string =>
  process.env["VWORKSPACE_CACHE"] ?? path.join(os.homedir(), ".cache", "vworkspace-operator")

/**
 * The repository root: the nearest folder above this module that holds scripts/build-k8s.sh.
 * Searching upward works from src/ under tsx and from dist/src/ after a build.
 */
export const repoRoot = (): string => {
  let dir = path.dirname(fileURLToPath(import.meta.url))
  for (;;) {
    if (fs.existsSync(path.join(dir, "scripts", "build-k8s.sh"))) return dir
    const parent = path.dirname(dir)
    if (parent === dir) return process.cwd()
    dir = parent
  }
}
