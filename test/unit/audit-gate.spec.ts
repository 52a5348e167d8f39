import { auditVerdict } from '../../scripts/audit-gate';

describe('supply-chain audit gate', () => {
  it('fails on a critical advisory in production dependencies', () => {
    expect(auditVerdict({ metadata: { vulnerabilities: { critical: 1, high: 0 } } })).toMatchObject(
      { kind: 'failed' },
    );
  });

  it('passes with high and lower advisories only', () => {
    expect(
      auditVerdict({ metadata: { vulnerabilities: { critical: 0, high: 3, moderate: 4 } } }),
    ).toEqual({
      kind: 'passed',
      summary: 'critical 0, high 3, moderate 4, low 0',
    });
  });

  it('says "not evaluated" when the registry refuses the audit query (405)', () => {
    expect(auditVerdict({ statusCode: 405, error: { summary: '' } })).toEqual({
      kind: 'not-evaluated',
      summary: 'the advisory endpoint answered HTTP 405',
    });
    expect(auditVerdict(undefined).kind).toBe('not-evaluated');
  });
});
