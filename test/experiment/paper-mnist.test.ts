import { describe, expect, it } from 'vitest';
import { lower, trace } from '../../compiler/index.ts';
import { modelToJSON } from '../../dsl/model-file.ts';
import { readModelFile } from '../../dsl/index.ts';
import { paperNetworks, parseNetworkList } from '../../runtime/experiment/paper-mnist.ts';

const model = (id: string) => readModelFile(`examples/models/${id}.json`);

describe('the paper-mnist networks', () => {
  it('have the paper\'s training settings as their model files\' defaults', () => {
    // SGD, lr 0.01 (0.02 for Sparse CNN-2) x0.8 per epoch, momentum 0.9 dense / 0 sparse, batch 64 (4 in the
    // first epoch for sparse nets), 15 epochs (10 for Sparse CNN-2)
    for (const n of paperNetworks) {
      const t = model(n.id).training!;
      expect({ id: n.id, ...t }).toEqual({
        id: n.id,
        epochs: n.id === 'sparse-cnn2' ? 10 : 15,
        batchSize: 64,
        ...(n.sparse ? { firstEpochBatchSize: 4 } : {}),
        lr: n.id === 'sparse-cnn2' ? 0.02 : 0.01,
        lrGamma: 0.8,
        momentum: n.sparse ? 0 : 0.9,
        weightDecay: 0,
      });
    }
  });

  it('sparse nets: boost 1.5 x0.85 per epoch, duty-cycle period 1000, kInferenceFactor 1.5 on every k-winners layer', () => {
    for (const n of paperNetworks.filter((x) => x.sparse)) {
      const kwtas = model(n.id).layers.filter((l) => l.kind === 'kwta');
      expect(kwtas.length).toBeGreaterThan(0);
      for (const k of kwtas) expect(k).toMatchObject({ kInferenceFactor: 1.5, boost: { strength: 1.5, strengthFactor: 0.85, dutyCyclePeriod: 1000 } });
    }
  });

  it('Dense CNN-2 + dropout is Dense CNN-2 with dropout 0.5 after the hidden layer\'s ReLU', () => {
    const plain = modelToJSON(model('dense-cnn2')) as { layers: unknown[]; name: string; description: string };
    const dropout = modelToJSON(model('dense-cnn2-dropout')) as typeof plain;
    const hidden = plain.layers.findIndex((l) => JSON.stringify(l).includes('"units":1000'));
    expect(plain.layers[hidden + 1]).toEqual({ relu: {} });
    expect(dropout.layers).toEqual([...plain.layers.slice(0, hidden + 2), { dropout: { rate: 0.5 } }, ...plain.layers.slice(hidden + 2)]);
    expect({ ...dropout, layers: [], name: '', description: '' }).toEqual({ ...plain, layers: [], name: '', description: '' });
  });

  it('every network compiles through the front end', () => {
    for (const n of paperNetworks) expect(() => lower(trace(model(n.id)))).not.toThrow();
  });

  it('--networks: a comma-separated list of known ids', () => {
    expect(parseNetworkList('sparse-cnn2, dense-cnn1,sparse-cnn2')).toEqual(['sparse-cnn2', 'dense-cnn1']);
    expect(() => parseNetworkList('dense-cnn3')).toThrow(/--networks: unknown network "dense-cnn3" \(known: dense-cnn1, dense-cnn2, dense-cnn2-dropout, sparse-cnn1, sparse-cnn2\)/);
    expect(() => parseNetworkList(',')).toThrow(/--networks must name at least one network/);
  });
});
