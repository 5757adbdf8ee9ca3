import { buildSimulation } from './simulator/simulation.ts';
const HOUR = 3600000;
const start = Date.UTC(2025, 2, 5, 6);
for (let i = 0; i < 300; i++) {
  const sim = buildSimulation({ seed: `s${i}`, users: 150, durationMs: 12*HOUR, startUtcMs: start, attacksPerKind: 2, tenant: 'acme', travelPerDay: 0.5 });
  for (const l of sim.labels) {
    const steal = sim.steps.find(s => 'attack' in s && s.attack === l.id && s.kind === 'steal');
    if (l.kind === 'xss_parallel' && steal!.net.kind === 'vpn') console.log(`s${i}`, l.id, l.subject);
  }
}
