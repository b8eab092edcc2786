import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

/** Every relative import of every .ts file under `root` (type-only imports included): file -> files. */
export function importGraph(root: string): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sourceFiles(root)) {
    const text = readFileSync(file, "utf8");
    const targets = [...text.matchAll(/(?:from|import)\s*\(?\s*"(\.{1,2}\/[^"]+)"/g)].map((match) =>
      relative(root, resolve(dirname(file), match[1] as string)),
    );
    graph.set(relative(root, file), [...new Set(targets)]);
  }
  return graph;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith(".ts") ? [path] : [];
  });
}

/** The strongly connected components with more than one file (or a file importing itself): each is a cycle. */
export function importCycles(graph: Map<string, string[]>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];

  const visit = (node: string) => {
    index.set(node, counter);
    low.set(node, counter);
    counter++;
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!graph.has(next)) continue;
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node) as number, low.get(next) as number));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node) as number, index.get(next) as number));
      }
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = [];
      let member: string | undefined;
      do {
        member = stack.pop() as string;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1 || graph.get(node)?.includes(node)) cycles.push(component.sort());
    }
  };
  for (const node of [...graph.keys()].sort()) if (!index.has(node)) visit(node);
  return cycles;
}

/**
 * Where each part of packages/server/src may reach: `platform/` only itself; `http/` itself and
 * `platform/`; a domain itself, `http/` and `platform/` (never another domain). The composition
 * roots (app.ts, main.ts, jobs/) may import anything. Answers every import that breaks this.
 */
export function layerViolations(graph: Map<string, string[]>): string[] {
  const layerOf = (file: string): string => {
    const [top, second] = file.split("/");
    if (top === "domains") return `domains/${second}`;
    if (top === "http" || top === "platform") return top;
    return "root";
  };
  const allowed = (from: string, to: string): boolean => {
    if (from === "root" || from === to) return true;
    if (from === "platform") return false;
    if (from === "http") return to === "platform";
    return to === "http" || to === "platform";
  };
  return [...graph].flatMap(([file, imports]) =>
    imports.filter((target) => !allowed(layerOf(file), layerOf(target))).map((target) => `${file} imports ${target}`),
  );
}
