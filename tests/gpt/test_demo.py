"""The solo-GPT demo step's choice of held-out songs."""

from gpt.demo import held_out_songs


class _Reader:
    def __init__(self, names):
        self.names = names

    def sequences(self, split):
        assert split == "test"
        return list(self.names)


def test_held_out_songs_are_distinct_songs():
    # The corpus gives several test dances to one song; two dances to the same file would collide.
    reader = _Reader(["gBR_sBM_cAll_d03_mBR4_ch01", "gBR_sBM_cAll_d04_mBR4_ch02", "gPO_sBM_cAll_d05_mPO1_ch03",
                      "gPO_sBM_cAll_d06_mPO2_ch04"])
    assert held_out_songs(reader, 2) == ["gBR_sBM_cAll_d03_mBR4_ch01", "gPO_sBM_cAll_d05_mPO1_ch03"]
    assert held_out_songs(reader, 5) == ["gBR_sBM_cAll_d03_mBR4_ch01", "gPO_sBM_cAll_d05_mPO1_ch03",
                                         "gPO_sBM_cAll_d06_mPO2_ch04"]
