import { readFileSync } from "node:fs";
import ts from "typescript";

/** Every `x as T` and `<T>x` in a file, except `as const` (which casts nothing): `line: as T`. */
export function asCasts(path: string): string[] {
  const source = ts.createSourceFile(path, readFileSync(path, "utf8"), ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const visit = (node: ts.Node) => {
    if ((ts.isAsExpression(node) || ts.isTypeAssertionExpression(node)) && node.type.getText(source) !== "const") {
      const { line } = source.getLineAndCharacterOfPosition(node.getStart(source));
      found.push(`${line + 1}: as ${node.type.getText(source).replace(/\s+/g, " ")}`);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** Whether a path is a domain's route file (`domains/<name>/[<resource>/]routes.ts`). */
export const isRouteFile = (path: string) => /\/domains\/.*\/routes\.ts$/.test(path);
