import { claimName } from '../store/records.js';
import type { SecretNames } from '../store/types.js';
import type { Action } from './model.js';

/** One line per action, for plan and the act log. */
export function describeAction(action: Action, names: SecretNames): string {
  switch (action.kind) {
    case 'wait':
      return `wait (${action.pace})`;
    case 'store-spooled':
      return `store the spooled keys in ${names.unsealKeys} and ${names.rootToken}, then remove the spool`;
    case 'claim-and-init': {
      const claim = claimName(names.initClaim, action.claim.generation);
      const how =
        action.claim.kind === 'held'
          ? `hold our claim ${claim}`
          : `create ${claim} (claim generation ${action.claim.generation}${action.claim.takesOver === 'nothing' ? '' : `, taking over ${action.claim.takesOver === 'old-cluster' ? "the old cluster's claim" : `a${action.claim.takesOver === 'stale' ? ' stale' : 'n unreadable'} claim`}`}; create-if-absent: one winner)`;
      return `${how}, initialize (${action.shares} ${action.keyType === 'recovery' ? 'recovery shares' : 'shares'}, threshold ${action.threshold}${action.custodians === undefined ? '' : ', each share encrypted to one custodian'}), store ${names.unsealKeys} and ${names.rootToken}`;
    }
    case 'join':
      return action.leader === undefined
        ? 'wait for this node to join the cluster (raft retry_join)'
        : `ask this node to join the cluster through ${action.leader} (--raft-join)`;
    case 'unseal':
      return `${action.resetProgress ? 'reset the unseal progress someone else started, then ' : ''}unseal with version ${action.version} of ${names.unsealKeys}${action.pending ? " (a rotation's pending keys; stored as active once they unseal)" : ''}`;
    case 'configure':
      return (
        [
          ...action.policies.map((name) => `write policy ${name}`),
          ...(action.role ? ['write token role provisioner'] : []),
          ...(action.audit ? ['enable the audit device'] : []),
        ].join(', ') + ` (with the ${action.management.source} token)`
      );
    case 'issue-management-token':
      return `issue the management token through the token role vault-bootstrap-management with the root token, store it in ${names.managementToken}`;
    case 'reissue-management-token':
      return `issue the management token's successor through the token role vault-bootstrap-management, store it in ${names.managementToken}, then revoke the old one`;
    case 'issue-token':
      return `issue a provisioner token with the ${action.management.source} token, store it in ${names.provisionerToken}${action.replaces === 'none' ? '' : ', then revoke the old one'}`;
    case 'revoke-previous-token':
      return `revoke the provisioner token rotated out of ${names.provisionerToken} (its --provisioner-overlap ended at ${action.record.previous.revokeAt})`;
    case 'revoke-root':
      return `revoke the root token and mark ${names.rootToken} revoked`;
    case 'record-seal-intent':
      return `record a seal intent in ${names.sealIntent} (sealed while running) and keep the node sealed`;
    case 'seal':
      return `seal this node with the ${action.management.source} token (a seal intent is active)`;
    case 'record-cluster-id':
      return `add the cluster id${action.keys.highestServer ? ` and the server release ${action.keys.highestServer.version}` : ''} to ${names.unsealKeys}`;
    case 'record-server-version':
      return `record ${action.keys.highestServer.kind} ${action.keys.highestServer.version} as the highest release active on this cluster in ${names.unsealKeys} (the downgrade guard)`;
    case 'record-self-init-cluster':
      return `record cluster id ${action.cluster.clusterId} in ${names.selfInitCluster}`;
    case 'adopt-migrated-keys':
      return `ask the server whether the stored Shamir keys are its recovery keys (a trial rotation, cancelled); if so store them in ${names.unsealKeys} as type recovery`;
    case 'record-seal-rewrap':
      return `record in ${names.sealKeyRollout} that the stored keys are re-wrapped with static seal key ${action.keyId}`;
    case 'take-snapshot':
      return `take a raft snapshot into --snapshot-to (streamed, verified, paired with the version of ${names.unsealKeys} in force), then apply retention`;
    case 'hold':
      return `hold: ${action.blocker} (nothing changes until a person acts)`;
    case 'done':
      return 'nothing to change';
  }
}
