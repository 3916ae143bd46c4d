/**
 * Whether a new version's predecessor is retired at once instead of after its targets confirm
 * (an emergency rotation in immediate mode). Retirement asks through this port; the feature
 * that rushes retirement provides it, so retirement imports nothing of that feature.
 */
export abstract class RetirementUrgency {
  abstract isImmediate(emergencyId: string | undefined): Promise<boolean>;
}
