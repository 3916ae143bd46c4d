import type { DeliveryPage, DriftScanReport } from '@rotor/rest-contract';

import type { CliContext, CliFlags } from '../context';
import { request } from '../http-client';
import { printResult } from '../output';

/** `rotor deliveries list --secret S [--state S]` (every copy and its state) and `rotor deliveries reconcile` (drift scan now). */
export async function deliveriesCommand(context: CliContext, action: string | undefined, flags: CliFlags): Promise<void> {
  switch (action) {
    case 'list': {
      if (typeof flags['secret'] !== 'string') throw new Error('deliveries list needs --secret NAME');
      const query = new URLSearchParams({ secret: flags['secret'] });
      if (typeof flags['state'] === 'string') query.set('state', flags['state']);
      const page = await request<DeliveryPage>(`${context.urls.distributor}/v1/deliveries?${query.toString()}`, {
        token: await context.token(['rotor:auditor']),
      });
      printResult(context, page, {
        columns: ['version', 'target', 'kind', 'state', 'locator', 'attempts', 'last error', 'updated'],
        rows: page.items.map((copy) => [
          copy.version,
          copy.target.name,
          copy.target.kind,
          copy.state,
          copy.locator ?? '',
          copy.attempts,
          copy.lastError ?? '',
          copy.updatedAt,
        ]),
      });
      return;
    }
    case 'reconcile': {
      const report = await request<DriftScanReport>(`${context.urls.distributor}/v1/reconcile`, {
        method: 'POST',
        token: await context.token(['rotor:sre']),
      });
      printResult(context, report, {
        columns: ['drift', 'secret', 'target', 'version', 'locator', 'repaired'],
        rows: [
          ...report.findings.map((finding) => [
            finding.drift,
            finding.secret,
            finding.target,
            finding.version,
            finding.locator,
            finding.repaired ? 'yes' : 'no',
          ]),
          ...report.errors.map((error) => ['scan-error', undefined, error.target, undefined, error.reason, undefined]),
        ],
      });
      if (report.findings.length > 0 || report.errors.length > 0) process.exitCode = 3;
      return;
    }
    default:
      throw new Error('usage: rotor deliveries list --secret NAME [--state STATE] | deliveries reconcile');
  }
}
