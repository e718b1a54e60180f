// A Babel plugin for the Espruino bundle: a function that reads `this` several times reads it once into a local
// (`var self = this`) and uses the local, which terser then names with one letter: `this.` costs 5 bytes, `a.` 2.
// `this` cannot be reassigned, so inside one function (nested ordinary functions have their own `this` and are left
// alone) the local always holds the same value. Runs after Babel has lowered arrows, so no arrow is left whose
// `this` belongs to the enclosing function.

/** Fewest `this` reads worth a local: below this the declaration costs more than it saves. */
const MIN_USES = 3;

/**
 * @param {{ types: import('@babel/core').types }} babel
 * @returns {import('@babel/core').PluginObj}
 */
export function thisAlias(babel) {
  const t = babel.types;
  return {
    name: 'ota-this-alias',
    visitor: {
      Function: {
        exit(path) {
          if (path.isArrowFunctionExpression() || !t.isBlockStatement(path.node.body)) return;
          /** @type {import('@babel/core').NodePath[]} */
          const uses = [];
          path.get('body').traverse({
            Function(inner) {
              if (!inner.isArrowFunctionExpression()) inner.skip();
            },
            ThisExpression(use) {
              uses.push(use);
            },
          });
          if (uses.length < MIN_USES) return;
          const self = path.scope.generateUidIdentifier('self');
          for (const use of uses) use.replaceWith(t.identifier(self.name));
          path.get('body').unshiftContainer('body', t.variableDeclaration('var', [t.variableDeclarator(self, t.thisExpression())]));
        },
      },
    },
  };
}
