"""The offline voice: speech recognition (faster-whisper, Whisper tiny.en) and speech synthesis
(Piper, en_US-joe-medium), both with models that ship inside pip packages, no key and no network.

`models.py` loads each model once per process; `pool.py` runs inference off the event loop in a
bounded pool sized to the CPUs; `whisper.py` and `piper.py` are the voice stages.
"""
