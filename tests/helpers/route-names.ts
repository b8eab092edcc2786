import ts from "typescript";

export interface RouteName {
  name: string;
  expected: string;
}

/**
 * The name each `secured(...)`/`open(...)` route definition in a source is bound to, and the name
 * its operationId asks for: a constant `<operationId>Route` (`adjustStockRoute`), or in a factory
 * that makes the same operations for several resources, the key of the operation's verb
 * (`delete: secured({ operationId: \`delete${Name}\` ... })`). A maker of routes that differ in one
 * action (`const closeSuggestionRoute = (action) => secured(...)`) is left to the constants it makes.
 */
export function routeNames(text: string): RouteName[] {
  const source = ts.createSourceFile("routes.ts", text, ts.ScriptTarget.Latest, true);
  const found: RouteName[] = [];
  const visit = (node: ts.Node) => {
    if (
      ts.isCallExpression(node) &&
      ts.isIdentifier(node.expression) &&
      /^(secured|open)$/.test(node.expression.text)
    ) {
      const operationId = node.arguments
        .filter(ts.isObjectLiteralExpression)
        .flatMap((config) => config.properties)
        .find((property) => ts.isPropertyAssignment(property) && property.name.getText(source) === "operationId");
      const value = operationId && ts.isPropertyAssignment(operationId) ? operationId.initializer : undefined;
      const parent = node.parent;
      if (value && ts.isStringLiteral(value) && ts.isVariableDeclaration(parent))
        found.push({ name: parent.name.getText(source), expected: `${value.text}Route` });
      else if (value && ts.isTemplateExpression(value) && ts.isPropertyAssignment(parent))
        found.push({ name: parent.name.getText(source), expected: value.head.text });
      // A maker of routes that differ in one action (`(action) => secured(...)`) binds no name itself.
      else if (value && !ts.isArrowFunction(parent))
        found.push({ name: parent.getText(source).slice(0, 40), expected: "a constant or a factory key" });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}
