// A Babel plugin for the Espruino bundle: the core settles most steps with Promise.resolve(x) / Promise.reject(e)
// (about 140 calls, 15 bytes of text each); each call becomes a call of a one-line local function that terser then
// names with one or two letters. Same semantics: the function passes its one argument through (a call with no
// argument passes undefined, as Promise.resolve() itself receives). Only the global Promise is rewritten.

const METHODS = ['resolve', 'reject'];

/**
 * @param {{ types: import('@babel/core').types }} babel
 * @returns {import('@babel/core').PluginObj}
 */
export function promiseShorthands(babel) {
  const t = babel.types;
  /** @type {Set<string>} */
  let used = new Set();
  return {
    name: 'ota-promise-shorthands',
    visitor: {
      Program: {
        enter() {
          used = new Set();
        },
        exit(path) {
          for (const method of METHODS) {
            if (!used.has(method)) continue;
            const value = t.identifier('v');
            path.unshiftContainer('body', t.functionDeclaration(t.identifier('promise$' + method), [value],
              t.blockStatement([t.returnStatement(t.callExpression(t.memberExpression(t.identifier('Promise'), t.identifier(method)), [t.identifier('v')]))])));
          }
        },
      },
      CallExpression(path) {
        const callee = path.node.callee;
        if (callee.type !== 'MemberExpression' || callee.computed || callee.object.type !== 'Identifier' || callee.object.name !== 'Promise') return;
        if (callee.property.type !== 'Identifier' || !METHODS.includes(callee.property.name)) return;
        if (path.scope.hasBinding('Promise', true)) return;
        // The shorthands' own bodies (inserted at exit, then visited) keep the real call.
        const own = path.getFunctionParent();
        if (own !== null && own.node.id && /^promise\$/.test(own.node.id.name)) return;
        const args = path.node.arguments;
        if (args.length > 1 || (args.length === 1 && args[0].type === 'SpreadElement')) return;
        used.add(callee.property.name);
        path.node.callee = t.identifier('promise$' + callee.property.name);
      },
    },
  };
}
