"""PaddleClas support in one adapter: its configs, its preprocessing ops and its weights, registered at
ppnorm's extension points (nothing in the core names a PaddleClas module except these lazy entries).

=====================  ==============================================  ======================================
what                   modules                                         registered in (lazily, by name)
=====================  ==============================================  ======================================
config dialect         ``dialect`` (detect + translate), ``names``,    ``ppnorm.engine.config.dialects.DIALECTS``
                       ``translator`` (Global, AMP, EMA, Infer, -o),
                       ``arch``, ``dataloader``, ``parts`` (Loss,
                       Optimizer, Metric)
transform ops          ``ops``, ``resize``                             ``ppnorm.data.transforms.TRANSFORMS``
weight names           ``weights`` (detect + convert)                  ``ppnorm.models.convert.CONVERTERS``
PaddleClas's package   ``installed`` (``import_ppcls``)                (a helper for tests and users)
=====================  ==============================================  ======================================

Each registry imports its module when it is first consulted (``Registry.register_lazy``), so neither
``import ppnorm`` nor ``ppnorm.models`` / ``ppnorm.data`` import this package; it imports them.
"""
