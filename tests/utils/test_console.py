import logging

from mmvanilla.utils.console import stdout_to_log


class _Records(logging.Handler):
    def __init__(self):
        super().__init__()
        self.messages = []

    def emit(self, record):
        self.messages.append((record.levelno, record.getMessage()))


def test_third_party_prints_and_root_logging_go_to_the_log_not_the_console(
        capsys, monkeypatch):
    # a bare root logger, as in a tool (pytest gives it capture handlers)
    monkeypatch.setattr(logging.root, 'handlers', [])
    logger = logging.getLogger('mmvanilla-test-console')
    logger.setLevel(logging.INFO)
    records = _Records()
    logger.addHandler(records)
    with stdout_to_log(logger, root_logging=True):
        print('index created!')
        logging.warning("Expected bias 'b' to be an initializer")  # as ONNX Runtime does
    out, err = capsys.readouterr()
    assert out == '' and err == ''
    assert logging.root.handlers == []  # nothing left behind, no basicConfig stderr handler
    assert (logging.INFO, "WARNING (root): Expected bias 'b' to be an initializer") in \
        records.messages
    assert any('index created!' in m for _, m in records.messages)
