// Which property names the Espruino build may shorten (terser's property mangling). A name qualifies only when it
// is declared `private` or `protected` in a class of the project's TypeScript (src/ and hal/, tests excluded) and
// nothing else in the project, nor the test guests that drive the built file, uses it as a name of its own:
// no interface or type member, public class member, object-literal key, string literal, or property read on
// anything but `this`. Such a name lives only inside its class, so renaming it consistently in the one bundle
// cannot change behaviour; a name also used elsewhere (an Espruino API, a JSON field, an option) stays.
import ts from 'typescript';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Where the project's TypeScript lives. */
export const NAME_ROOTS = ['src', 'hal'];
/** Guest code that reaches into the built file (folders or files). */
export const GUEST_ROOTS = ['test/portability/quickjs', 'test/portability/espruino-agent-run.ts', 'examples/espruino', 'scripts/espruino-run.mjs'];

function filesUnder(dir, pattern, out) {
  let entries;
  try {
    if (statSync(dir).isFile()) {
      out.push(dir);
      return out;
    }
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of entries) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) filesUnder(path, pattern, out);
    else if (pattern.test(name)) out.push(path);
  }
  return out;
}

function hasPrivacy(node) {
  const modifiers = ts.canHaveModifiers(node) ? ts.getModifiers(node) ?? [] : [];
  return modifiers.some((m) => m.kind === ts.SyntaxKind.PrivateKeyword || m.kind === ts.SyntaxKind.ProtectedKeyword);
}

function nameText(name) {
  return name !== undefined && (ts.isIdentifier(name) || ts.isStringLiteral(name) || ts.isPrivateIdentifier(name)) ? name.text : null;
}

/**
 * Sorted names safe to mangle, from the TypeScript under `roots` and the guest code under `guests` (cwd-relative).
 * @param {{ roots?: string[], guests?: string[] }} [options]
 * @returns {string[]}
 */
export function privateNames(options) {
  const roots = options?.roots ?? NAME_ROOTS;
  const guests = options?.guests ?? GUEST_ROOTS;
  const declared = new Set();
  const used = new Set();
  for (const root of roots) {
    for (const file of filesUnder(root, /\.ts$/, [])) {
      const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
      const visit = (node) => {
        if (ts.isPropertyDeclaration(node) || ts.isMethodDeclaration(node) || ts.isGetAccessor(node) || ts.isSetAccessor(node)) {
          const name = nameText(node.name);
          if (name !== null) (ts.isClassLike(node.parent) && hasPrivacy(node) ? declared : used).add(name);
        } else if (ts.isParameter(node) && ts.isIdentifier(node.name) && ts.isConstructorDeclaration(node.parent)) {
          if (hasPrivacy(node)) declared.add(node.name.text);
          else if (ts.canHaveModifiers(node) && (ts.getModifiers(node) ?? []).length > 0) used.add(node.name.text);
        } else if (ts.isPropertySignature(node) || ts.isMethodSignature(node) || ts.isPropertyAssignment(node) ||
          ts.isShorthandPropertyAssignment(node)) {
          const name = nameText(node.name);
          if (name !== null) used.add(name);
        } else if (ts.isPropertyAccessExpression(node) && node.expression.kind !== ts.SyntaxKind.ThisKeyword) {
          used.add(node.name.text);
        } else if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) {
          used.add(node.text);
        }
        ts.forEachChild(node, visit);
      };
      visit(source);
    }
  }
  // Guest code (test drivers, the example app) is read as text: every identifier-like word in it counts as used.
  for (const root of guests) {
    for (const file of filesUnder(root, /\.(ts|js|mjs)$/, [])) {
      for (const word of readFileSync(file, 'utf8').match(/[A-Za-z_$][\w$]*/g) ?? []) used.add(word);
    }
  }
  return [...declared].filter((name) => !used.has(name)).sort();
}
