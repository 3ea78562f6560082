import * as fs from "fs";
import * as path from "path";

const PACKAGE_NAME = "yolo-train";

/**
 * The folder of this package's package.json: walked up to from here, since this file runs from
 * its folder under `components/` (tsx, jest) and under `dist/components/` (the built package) alike.
 */
export function packageRoot(start: string = __dirname): string {
  for (let dir = path.resolve(start); ; dir = path.dirname(dir)) {
    const manifest = path.join(dir, "package.json");
    if (fs.existsSync(manifest)) {
      try {
        if ((JSON.parse(fs.readFileSync(manifest, "utf8")) as { name?: unknown }).name === PACKAGE_NAME) return dir;
      } catch {
        // An unreadable package.json is not ours; keep walking.
      }
    }
    if (path.dirname(dir) === dir) throw new Error(`Cannot find the ${PACKAGE_NAME} package root (a package.json named "${PACKAGE_NAME}") above ${start}`);
  }
}
