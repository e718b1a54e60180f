// A Babel plugin for the Espruino bundle: removes "use strict" directives (Babel's class lowering adds one per class).
// Espruino ignores them (reference note section 1), so each is 13 bytes of source kept in flash for nothing.

/** @returns {import('@babel/core').PluginObj} */
export function dropDirectives() {
  return {
    name: 'ota-drop-directives',
    visitor: {
      Directive(path) {
        if (path.node.value.value === 'use strict') path.remove();
      },
    },
  };
}
