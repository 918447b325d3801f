"""``tools/test.py --show-dir``: mmdet's drawing of predictions, through the
one output guard."""
import os.path as osp
from typing import Dict, Optional, Sequence

import mmcv
from mmdet.engine.hooks import DetVisualizationHook
from mmdet.registry import HOOKS
from mmdet.structures import DetDataSample
from mmengine.fileio import get

from mmvanilla.utils.paths import check_outputs, writable_dir


def picture_paths(image_paths: Sequence[str], out_dir: str) -> Dict[str, str]:
    """{image: picture} in ``out_dir``, each picture named by its image's
    path below the images' common folder (``a/x.png`` and ``b/x.png`` stay
    apart)."""
    root = osp.commonpath([osp.dirname(osp.abspath(p)) for p in image_paths]) \
        if image_paths else ''
    return {p: osp.join(out_dir, osp.relpath(osp.abspath(p), root)) for p in image_paths}


@HOOKS.register_module()
class GuardedDetVisualizationHook(DetVisualizationHook):
    """mmdet's ``DetVisualizationHook`` for testing, with every picture's path
    fixed and checked before the first is drawn: ``test_out_dir`` relative to
    ``work_dir/<timestamp>`` (mmdet's joins it again at every iteration, and
    writes an absolute one over the images of the same name), never over an
    input, into an artefact folder or over a file that is not a picture."""

    def before_test(self, runner) -> None:
        self._pictures: Optional[Dict[str, str]] = None
        if not self.draw or self.test_out_dir is None:
            return
        out_dir = osp.join(runner.work_dir, runner.timestamp, self.test_out_dir)
        dataset = runner.test_loop.dataloader.dataset
        images = [dataset.get_data_info(i)['img_path'] for i in range(len(dataset))]
        self._pictures = picture_paths(images, out_dir)
        check_outputs({f'the picture of {image}': picture
                       for image, picture in self._pictures.items()}, images)
        writable_dir(out_dir, '--show-dir')

    def after_test_iter(self, runner, batch_idx: int, data_batch: dict,
                        outputs: Sequence[DetDataSample]) -> None:
        if self.draw is False:
            return
        for data_sample in outputs:
            self._test_index += 1
            img_path = data_sample.img_path
            img = mmcv.imfrombytes(get(img_path, backend_args=self.backend_args),
                                   channel_order='rgb')
            out_file = self._pictures[img_path] if self._pictures else None
            if out_file:
                writable_dir(osp.dirname(out_file), '--show-dir')
            self._visualizer.add_datasample(
                osp.basename(img_path) if self.show else 'test_img', img,
                data_sample=data_sample, show=self.show, wait_time=self.wait_time,
                pred_score_thr=self.score_thr, out_file=out_file, step=self._test_index)
