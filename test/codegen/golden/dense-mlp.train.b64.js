function (M, W) {
  function k0_compactInput(M, lo = 0, hi = 64) {
    W.s0(lo, hi);
  }
  function k1_transpose(M, lo = 0, hi = 1000) {
    W.s1(lo, hi);
  }
  function k2_gather_biasAdd_relu(M, lo = 0, hi = 64) {
    W.s2(lo, hi);
  }
  function k3_linear_biasAdd_relu(M, lo = 0, hi = 64) {
    W.f0(lo, hi);
    for (let b = lo; b < hi; b++) {
      for (let e = 0; e < 1000; e++) {
        const o = b * 1000 + e;
        let v = M[4721344 + o];
        v = (v + M[1785008 + e]);
        v = (v > 0.0 ? v : 0.0);
        M[4591928 + o] = v;
      }
    }
  }
  function k4_linear_biasAdd(M, lo = 0, hi = 64) {
    W.f1(lo, hi);
    for (let b = lo; b < hi; b++) {
      for (let e = 0; e < 10; e++) {
        const o = b * 10 + e;
        let v = M[4721344 + o];
        v = (v + M[1796016 + e]);
        M[4655928 + o] = v;
      }
    }
  }
  function k5_xentStats(M, lo = 0, hi = 128) {
    for (let b = Math.floor(lo / 2), e0 = lo - b * 2; b * 2 < hi; b++, e0 = 0) {
      const e1 = Math.min(2, hi - b * 2);
      for (let e = e0; e < e1; e++) {
        const o = b * 2 + e;
        let max = M[4655928 + b * 10 + 0], arg = 0;
        for (let c = 1; c < 10; c++) if (M[4655928 + b * 10 + c] > max) { max = M[4655928 + b * 10 + c]; arg = c; }
        let sum = 0;
        for (let c = 0; c < 10; c++) sum += Math.exp(M[4655928 + b * 10 + c] - max);
        const lse = Math.log(sum) + max;
        const label = M[3642240 + b * 1 + 0];
        let v = e === 0 ? lse - M[4655928 + b * 10 + label] : (arg === label ? 1 : 0);
        M[4656568 + o] = v;
      }
    }
  }
  function k6_xentGrad(M, lo = 0, hi = 640) {
    for (let b = Math.floor(lo / 10), e0 = lo - b * 10; b * 10 < hi; b++, e0 = 0) {
      const e1 = Math.min(10, hi - b * 10);
      for (let e = e0; e < e1; e++) {
        const o = b * 10 + e;
        let max = M[4655928 + b * 10 + 0], arg = 0;
        for (let c = 1; c < 10; c++) if (M[4655928 + b * 10 + c] > max) { max = M[4655928 + b * 10 + c]; arg = c; }
        let sum = 0;
        for (let c = 0; c < 10; c++) sum += Math.exp(M[4655928 + b * 10 + c] - max);
        const lse = Math.log(sum) + max;
        const label = M[3642240 + b * 1 + 0];
        let v = (Math.exp(M[4655928 + b * 10 + e] - lse) - (e === label ? 1 : 0)) / 64.0;
        M[4656696 + o] = v;
      }
    }
  }
  function k7_biasGrad_momentum(M, lo = 0, hi = 10) {
    for (let o = lo; o < hi; o++) {
      let v = 0;
      for (let b = 0; b < 64; b++) for (let p = 0; p < 1; p++) v += M[4656696 + b * 10 + o * 1 + p];
      v = (M[3642308] * M[3592048 + o] + v + M[3642312] * M[1796016 + o]);
      M[3592048 + o] = v;
    }
  }
  function k8_linearGradX_reluGrad(M, lo = 0, hi = 64) {
    W.f2(lo, hi);
    for (let b = lo; b < hi; b++) {
      for (let e = 0; e < 1000; e++) {
        const o = b * 1000 + e;
        let v = M[4721344 + o];
        v = (M[4591928 + o] > 0.0 ? v : 0.0);
        M[4657336 + o] = v;
      }
    }
  }
  function k9_linearGradW_momentum(M, lo = 0, hi = 10) {
    W.f3(lo, hi);
    for (let o = lo * 1000; o < hi * 1000; o++) {
      let v = M[4721344 + o];
      v = (M[3642308] * M[3582048 + o] + v + M[3642312] * M[1786016 + o]);
      M[3582048 + o] = v;
    }
  }
  function k10_biasGrad_momentum(M, lo = 0, hi = 1000) {
    for (let o = lo; o < hi; o++) {
      let v = 0;
      for (let b = 0; b < 64; b++) for (let p = 0; p < 1; p++) v += M[4657336 + b * 1000 + o * 1 + p];
      v = (M[3642308] * M[3581040 + o] + v + M[3642312] * M[1785008 + o]);
      M[3581040 + o] = v;
    }
  }
  function k11_linearGradX_reluGrad(M, lo = 0, hi = 64) {
    W.f4(lo, hi);
    for (let b = lo; b < hi; b++) {
      for (let e = 0; e < 1000; e++) {
        const o = b * 1000 + e;
        let v = M[4721344 + o];
        v = (M[4527928 + o] > 0.0 ? v : 0.0);
        M[4591928 + o] = v;
      }
    }
  }
  function k12_linearGradW_momentum(M, lo = 0, hi = 1000) {
    W.f5(lo, hi);
    for (let o = lo * 1000; o < hi * 1000; o++) {
      let v = M[4721344 + o];
      v = (M[3642308] * M[2581040 + o] + v + M[3642312] * M[785008 + o]);
      M[2581040 + o] = v;
    }
  }
  function k13_biasGrad_momentum(M, lo = 0, hi = 1000) {
    for (let o = lo; o < hi; o++) {
      let v = 0;
      for (let b = 0; b < 64; b++) for (let p = 0; p < 1; p++) v += M[4591928 + b * 1000 + o * 1 + p];
      v = (M[3642308] * M[2580032 + o] + v + M[3642312] * M[784000 + o]);
      M[2580032 + o] = v;
    }
  }
  function k14_linearGradW_momentum(M, lo = 0, hi = 1000) {
    W.f6(lo, hi);
    for (let o = lo * 784; o < hi * 784; o++) {
      let v = M[4721344 + o];
      v = (M[3642308] * M[1796032 + o] + v + M[3642312] * M[0 + o]);
      M[1796032 + o] = v;
    }
  }
  function k15_sgdUpdate(M, lo = 0, hi = 784000) {
    W.s3(lo, hi);
  }
  function k16_sgdUpdate(M, lo = 0, hi = 1000) {
    for (let o = lo; o < hi; o++) {
      let v = M[784000 + o];
      v = (v - M[3642304] * M[2580032 + o]);
      M[784000 + o] = v;
    }
  }
  function k17_sgdUpdate(M, lo = 0, hi = 1000000) {
    W.s4(lo, hi);
  }
  function k18_sgdUpdate(M, lo = 0, hi = 1000) {
    for (let o = lo; o < hi; o++) {
      let v = M[1785008 + o];
      v = (v - M[3642304] * M[3581040 + o]);
      M[1785008 + o] = v;
    }
  }
  function k19_sgdUpdate(M, lo = 0, hi = 10000) {
    W.s5(lo, hi);
  }
  function k20_sgdUpdate(M, lo = 0, hi = 10) {
    for (let o = lo; o < hi; o++) {
      let v = M[1796016 + o];
      v = (v - M[3642304] * M[3592048 + o]);
      M[1796016 + o] = v;
    }
  }
  return [k0_compactInput, k1_transpose, k2_gather_biasAdd_relu, k3_linear_biasAdd_relu, k4_linear_biasAdd, k5_xentStats, k6_xentGrad, k7_biasGrad_momentum, k8_linearGradX_reluGrad, k9_linearGradW_momentum, k10_biasGrad_momentum, k11_linearGradX_reluGrad, k12_linearGradW_momentum, k13_biasGrad_momentum, k14_linearGradW_momentum, k15_sgdUpdate, k16_sgdUpdate, k17_sgdUpdate, k18_sgdUpdate, k19_sgdUpdate, k20_sgdUpdate];
}
