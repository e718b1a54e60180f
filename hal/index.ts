// The flash HAL: Flash and FlashArea, A/B boot-control records, the slot image target.
export * from './boot-record.js';
export * from './flash.js';
export * from './image-target.js';
export * from './slot-target.js';
export * from './slots.js';
