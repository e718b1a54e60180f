import type { Command } from '../command.js';
import { serveCommand } from './serve.js';
import { uploadOtaPayloadCommand } from './upload-ota-payload.js';
import { deployReleaseCommand } from './deploy-release.js';
import { abortRolloutCommand } from './abort-rollout.js';
import { devicesCommand } from './devices.js';
import { cohortsCommand } from './cohorts.js';
import { releasesCommand } from './releases.js';
import { deviceMoveCommand } from './device-move.js';
import { faultsAddCommand } from './faults-add.js';
import { faultsClearCommand } from './faults-clear.js';
import { faultsListCommand } from './faults-list.js';
import { certsListCommand } from './certs-list.js';
import { certsExportCommand } from './certs-export.js';
import { bundleCreateCommand } from './bundle-create.js';
import { bundleInspectCommand } from './bundle-inspect.js';
import { bundleVerifyCommand } from './bundle-verify.js';
import { keysGenerateCommand } from './keys-generate.js';
import { demoCommand } from './demo.js';
import { deviceRunCommand } from './device-run.js';
import { deviceStatusCommand } from './device-status.js';

/** Every `ota` command. Each lives in its own file beside this one; add new ones to this list. */
export const commands: Command[] = [
  serveCommand,
  uploadOtaPayloadCommand,
  deployReleaseCommand,
  abortRolloutCommand,
  devicesCommand,
  cohortsCommand,
  releasesCommand,
  deviceMoveCommand,
  faultsAddCommand,
  faultsClearCommand,
  faultsListCommand,
  certsListCommand,
  certsExportCommand,
  bundleCreateCommand,
  bundleInspectCommand,
  bundleVerifyCommand,
  keysGenerateCommand,
  demoCommand,
  deviceRunCommand,
  deviceStatusCommand,
];
